"""Bytes in and out of the stats process: risk actions read, windows published, and the
changelog of the open windows (its keys and values are internal, not a contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from riskgate.contracts.decode import encode
from riskgate.contracts.enums import ActionType
from riskgate.contracts.outputs import OverrideCount, OverrideStats
from riskgate.stats.windows import Emission, Tally, WindowCounts, WindowKey, window_id

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_ACTION_TYPES = frozenset(ActionType)


class UndecodableAction(ValueError):
    """A record on risk.actions the statistics cannot count."""


def to_us(moment: datetime) -> int:
    """Exact microseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // _ONE_US


def from_us(at_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=at_us)


def rfc3339(at_us: int) -> str:
    return from_us(at_us).isoformat().replace("+00:00", "Z")


def tally(value: bytes | None) -> Tally:
    """The counted fields of a risk action record; UndecodableAction when one is wrong."""
    try:
        body = orjson.loads(value or b"")
        strategy, action = body["strategy_id"], body["action_type"]
        codes, stamp = body["reason_codes"], body["timestamp"]
        if (not isinstance(strategy, str) or action not in _ACTION_TYPES
                or not isinstance(codes, list) or not all(isinstance(c, str) for c in codes)):
            raise UndecodableAction("strategy_id, action_type or reason_codes has a wrong type")
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise UndecodableAction("timestamp has no offset")
        return Tally(strategy, action, tuple(codes), to_us(moment))
    except UndecodableAction:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UndecodableAction(f"{type(exc).__name__}: {exc}") from exc


def stats_record(emission: Emission, grace_us: int, now_us: int) -> OverrideStats:
    """The ``risk.override_stats`` message of one emitted revision."""
    key = emission.key
    return OverrideStats(
        window_id=window_id(key), revision=emission.revision, strategy_id=key.strategy_id,
        window_size_s=key.size_s, window_start=from_us(key.start_us),
        window_end=from_us(key.end_us), decisions=emission.decisions,
        overridden=emission.overridden,
        counts=tuple(OverrideCount(action_type=ActionType(action), reason_code=code, count=n)
                     for action, code, n in emission.rows),
        corrections_until=from_us(key.end_us + grace_us), timestamp=from_us(now_us),
    )


def stats_bytes(emission: Emission, grace_us: int, now_us: int) -> tuple[bytes, bytes]:
    """Kafka key (the strategy) and value of one emitted revision."""
    return emission.key.strategy_id.encode(), encode(stats_record(emission, grace_us, now_us))


# The changelog: "w|<size>|<start_us>|<strategy>" -> counts, "h|<size>" -> horizon end_us.
# The strategy is last, so a "|" inside it needs no escaping.

def window_key_bytes(key: WindowKey) -> bytes:
    return f"w|{key.size_s}|{key.start_us}|{key.strategy_id}".encode()


def horizon_key_bytes(size_s: int) -> bytes:
    return f"h|{size_s}".encode()


def counts_bytes(counts: WindowCounts) -> bytes:
    return orjson.dumps({"d": counts.decisions, "o": counts.overridden,
                         "c": [list(row) for row in counts.rows()], "r": counts.revision,
                         "p": counts.pending})


def horizon_bytes(end_us: int) -> bytes:
    return orjson.dumps({"end_us": end_us})


def restore(records: list[tuple[bytes, bytes | None]]
            ) -> tuple[dict[WindowKey, WindowCounts], dict[int, int]]:
    """The open windows and horizons from changelog records in topic order (last one wins; a
    tombstone deletes)."""
    windows: dict[WindowKey, WindowCounts] = {}
    horizons: dict[int, int] = {}
    for raw_key, raw in records:
        kind, _, rest = raw_key.decode().partition("|")
        if kind == "h":
            size = int(rest)
            if raw is None:
                horizons.pop(size, None)
            else:
                horizons[size] = int(orjson.loads(raw)["end_us"])
            continue
        size, start, strategy = rest.split("|", 2)
        key = WindowKey(int(size), int(start), strategy)
        if raw is None:
            windows.pop(key, None)
            continue
        body = orjson.loads(raw)
        windows[key] = WindowCounts(
            decisions=body["d"], overridden=body["o"],
            by_reason={(action, code): n for action, code, n in body["c"]},
            revision=body["r"], pending=body["p"])
    return windows, horizons

