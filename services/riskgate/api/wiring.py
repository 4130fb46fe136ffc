"""The real parts of ``riskgate api``: the live inputs from the broker, the portfolio state
from PostgreSQL, the keys file, and the control plane's ``ConfigWriter`` (started in the
background: until it is, writes answer 503 saying why)."""

from __future__ import annotations

from riskgate.api.app import ApiParts
from riskgate.api.auth import KeyRing
from riskgate.api.live import LiveInputs
from riskgate.api.portfolios import StoredPortfolios
from riskgate.api.writer import StartedWriter
from riskgate.control.writer import ConfigWriter
from riskgate.settings import Settings
from riskgate.stats.reader import TopicOverrideStats


def real_parts(settings: Settings) -> ApiParts:
    writer = StartedWriter(ConfigWriter(settings))
    return ApiParts(inputs=LiveInputs(settings),
                    portfolios=StoredPortfolios(settings),
                    writer=writer, keys=KeyRing(settings.api_keys_file),
                    services=[writer, TopicOverrideStats(settings)])
