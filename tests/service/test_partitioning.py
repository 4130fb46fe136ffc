"""Decisions on another partition than murmur2(key) picks: counted, warned once, still decided."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from riskgate.contracts.outputs import RiskAction
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.worker import handler as handler_module
from riskgate.worker.handler import DecisionHandler, expected_partition
from tests.service.test_handler import NOW, row, world
from tests.support import builders as b

pytestmark = pytest.mark.service

# Kafka's own murmur2 test vectors (org.apache.kafka.common.utils.UtilsTest), signed as Java has them.
JAVA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                b"abc": 479470107}


class FakeLog:
    """Stands in for the handler's structlog logger and keeps the warnings."""

    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict]] = []

    def warning(self, event: str, **fields) -> None:
        self.warnings.append((event, fields))


def misrouted(topic: str) -> float:
    return REGISTRY.get_sample_value("riskgate_misrouted_decisions_total", {"topic": topic}) or 0.0


def record(topic: str, partition: int, offset: int, portfolio: str, decision_id: str) -> InRecord:
    body = b.proposal(decision_id, portfolio, "AAPL", qty=1.0, created_at=NOW)
    return InRecord(topic, partition, offset, portfolio.encode(), b.dumps(body))


@pytest.fixture()
def fake_log(monkeypatch) -> FakeLog:
    fake = FakeLog()
    monkeypatch.setattr(handler_module, "log", fake)
    return fake


class TestExpectedPartition:
    @pytest.mark.parametrize("partitions", [1, 4, 8, 12])
    def test_it_matches_the_java_client(self, partitions):
        """The expected partition is toPositive(murmur2(key)) % n, as Kafka's Java client computes it."""
        for key, java_hash in JAVA_MURMUR2.items():
            assert expected_partition(key, partitions) == (java_hash & 0x7FFFFFFF) % partitions


class TestMisroutedDecisions:
    def test_a_decision_on_its_murmur2_partition_is_not_counted(self, fake_log):
        """A decision on the partition murmur2 picks for its key is neither counted nor warned."""
        topic = "t.rightly-routed"
        handler = DecisionHandler(Settings(partitions=4), world(AAPL=100.0))
        rec = record(topic, expected_partition(b"P1", 4), 0, "P1", "D1")

        decoded = handler.decode(rec)

        assert decoded.poison is None
        assert misrouted(topic) == 0.0
        assert fake_log.warnings == []

    def test_a_misrouted_decision_is_counted_and_still_decided(self, fake_log):
        """A decision on another partition is counted, warned about and decided like any other."""
        topic = "t.misrouted"
        handler = DecisionHandler(Settings(partitions=4), world(AAPL=100.0))
        wrong = (expected_partition(b"P1", 4) + 1) % 4
        rec = record(topic, wrong, 0, "P1", "D1")

        decoded = handler.decode(rec)
        result = handler.handle([decoded], {"P1": row("P1")}, set(), NOW)

        assert misrouted(topic) == 1.0
        assert [(e, f["portfolio_id"], f["partition"]) for e, f in fake_log.warnings] == [
            ("decision_misrouted", "P1", wrong)]
        actions = [RiskAction.model_validate_json(o.value) for o in result.outputs
                   if o.topic == handler.out_topics[0]]
        assert [(a.decision_id, a.action_type.value) for a in actions] == [("D1", "OK")]

    def test_the_warning_comes_once_per_portfolio(self, fake_log):
        """Many misrouted decisions of two portfolios give every one counted and two warnings."""
        topic = "t.warned-once"
        handler = DecisionHandler(Settings(partitions=4), world(AAPL=100.0))
        recs = [record(topic, (expected_partition(p.encode(), 4) + 1) % 4, i, p, f"D{i}")
                for i, p in enumerate(["P1", "P2"] * 5)]

        for rec in recs:
            handler.decode(rec)

        assert misrouted(topic) == 10.0
        assert sorted(f["portfolio_id"] for _, f in fake_log.warnings) == ["P1", "P2"]

    def test_the_live_partition_count_wins_over_the_setting(self, fake_log):
        """With the topic's real count known, the expected partition uses it, not the setting."""
        topic = "t.live-count"
        key = next(f"P{i}" for i in range(100)
                   if expected_partition(f"P{i}".encode(), 4) != expected_partition(f"P{i}".encode(), 8))
        handler = DecisionHandler(Settings(partitions=8), world(AAPL=100.0),
                                  partition_count=lambda t: 4 if t == topic else None)
        rec = record(topic, expected_partition(key.encode(), 4), 0, key, "D1")

        handler.decode(rec)

        assert misrouted(topic) == 0.0

    def test_an_unknown_live_count_falls_back_to_the_setting(self, fake_log):
        """While the real count is unknown, the configured partition count decides."""
        topic = "t.count-unknown"
        handler = DecisionHandler(Settings(partitions=4), world(AAPL=100.0),
                                  partition_count=lambda t: None)
        rec = record(topic, (expected_partition(b"P1", 4) + 1) % 4, 0, "P1", "D1")

        handler.decode(rec)

        assert misrouted(topic) == 1.0
