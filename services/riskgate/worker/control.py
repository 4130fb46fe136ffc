"""The worker's side of the control plane (docs/control-plane.md): the one-partition rule for
risk.config at start-up, and the active-profile metric after each config apply."""

from __future__ import annotations

from aiokafka.errors import KafkaError

from riskgate import metrics
from riskgate.errors import ConfigTopicInvalid
from riskgate.kafka.admin import config_topic_problem
from riskgate.settings import Settings
from riskgate.worker.inputs import partitions_of


async def check_config_topic(settings: Settings) -> None:
    """ConfigTopicInvalid when risk.config has more than one partition (versions must be read
    in order); a KafkaError, retried by start-up, while it does not exist yet."""
    topic = settings.topics.config
    try:
        parts = await partitions_of(settings, topic)
    except KafkaError:  # the broker is away: start-up retries
        raise
    except RuntimeError as exc:  # not created yet: wait for `riskgate topics create`
        raise KafkaError(str(exc)) from exc
    problem = config_topic_problem(topic, len(parts))
    if problem is not None:
        raise ConfigTopicInvalid(problem)


def show_profiles(profiles: dict[tuple[str, str], str]) -> None:
    """riskgate_active_profile: 1 per configured scope and its profile (global: NORMAL unset)."""
    metrics.ACTIVE_PROFILE.clear()
    shown = {("GLOBAL", ""): "NORMAL", **profiles}
    for (scope, ident), name in shown.items():
        label = "global" if scope == "GLOBAL" else f"{scope.lower()}:{ident}"
        metrics.ACTIVE_PROFILE.labels(label, name).set(1)
