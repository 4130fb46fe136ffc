"""The bench's latest.json shape and its goals: equal-rate rows, bytes per decision, the stage
table, the SASL_SSL section, and the issue 11 goals (pure functions, no broker)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bench import equal_rate, footprint, report, secure
from bench.goals import evaluate
from bench.passthrough_confluent import next_offsets

pytestmark = pytest.mark.unit


def _level(rate: float, p50: float, p99: float, kept: float, complete: bool = True) -> dict:
    return {"target_rate": rate, "kept_rate": kept, "complete": complete, "p50_ms": p50,
            "p99_ms": p99, "max_ms": p99 + 5, "disturbed": False}


def _equal_runs() -> dict[str, list]:
    """Riskgate and the pass-through keep up at both rates; faust only at the lower one."""
    return {
        "riskgate": [[_level(100, 10, 20, 100), _level(1000, 30, 60, 1000)]],
        "passthrough": [[_level(100, 8, 16, 100), _level(1000, 20, 30, 990)]],
        "faust": [[_level(100, 40, 80, 98), _level(1000, 900, 4000, 300, complete=False)]],
    }


class TestEqualRates:
    def test_rates_are_half_of_faust_and_riskgate_as_integers(self) -> None:
        """The equal rates are int(50%) of faust's and riskgate's max, lowest first."""
        # Arrange
        max_rate = {"riskgate": 2155.7, "passthrough": 9000.0, "faust": 471.3}
        # Act
        rates = equal_rate.equal_rates(max_rate)
        # Assert
        assert rates == [235, 1077]

    def test_a_missing_max_leaves_its_rate_out(self) -> None:
        """Without a faust max there is only riskgate's rate."""
        # Arrange
        max_rate = {"riskgate": 2000.0, "faust": None}
        # Act
        rates = equal_rate.equal_rates(max_rate)
        # Assert
        assert rates == [1000]

    def test_summary_keeps_the_latency_of_a_system_that_keeps_up(self) -> None:
        """A system that delivers at least 95% of the rate has its p50, p99 and max."""
        # Arrange
        runs = _equal_runs()
        # Act
        rows = equal_rate.summary(runs, [100, 1000])
        # Assert
        row = equal_rate.row(rows, 1000, "passthrough")
        assert set(row) >= {"rate", "system", "p50_ms", "p99_ms", "max_ms", "delivered_rate",
                            "complete"}
        assert (row["rate"], row["complete"], row["p99_ms"], row["max_ms"]) == (1000, True, 30, 35)

    def test_summary_omits_the_latency_of_a_system_that_falls_behind(self) -> None:
        """Faust at a rate it cannot keep up with is recorded, complete false, no latency."""
        # Arrange
        runs = _equal_runs()
        # Act
        row = equal_rate.row(equal_rate.summary(runs, [100, 1000]), 1000, "faust")
        # Assert
        assert row["complete"] is False and row["p99_ms"] is None
        assert row["delivered_rate"] == 300 and "cannot keep up" in row["why"]


def _results() -> dict:
    rows = equal_rate.summary(_equal_runs(), [100, 1000])
    return {
        "core": {"median": {"chain_us": 6.0, "bytes_to_bytes_us": 18.0, "handler_us": 50.0},
                 "ratio_chain_vs_nautilus": {"median": None, "pairs": []},
                 "ratio_bytes_vs_nautilus": {"median": None, "pairs": []}},
        "e2e": {"plan": {}, "saturate": {}, "max_rate": {},
                "ratio_a_b": {"median": 0.5, "pairs": [0.5]},
                "ratio_a_c": {"median": 9.0, "pairs": [9.0]}, "latency": {},
                "equal_rate": rows},
    }


def _goal_for(runs: dict[str, list], needle: str) -> dict:
    """The goal whose name contains ``needle``, computed with these equal-rate runs."""
    results = _results()
    results["e2e"]["equal_rate"] = equal_rate.summary(runs, [100, 1000])
    return next(g for g in evaluate(results) if needle in g["goal"])


class TestIssue11Goals:
    def test_every_new_goal_is_computed(self) -> None:
        """Throughput, equal-rate latency, handler and bytes-to-bytes goals all get a value."""
        # Arrange
        results = _results()
        # Act
        goals = {g["goal"]: g for g in evaluate(results)}
        # Assert
        new = {k: v for k, v in goals.items() if k.startswith("issue 11")}
        assert len(new) == 7 and all(g["value"] is not None for g in new.values())
        assert goals["bytes to bytes <= 15 µs"]["met"] is False  # the old goal stays

    def test_the_goals_compare_riskgate_with_the_baselines(self) -> None:
        """p50 at the low rate is 10/40 of faust's; p99 at the high rate 2x the pass-through's."""
        # Arrange
        results = _results()
        # Act
        goals = {g["goal"]: g for g in evaluate(results)}
        # Assert
        p50 = goals["issue 11: at the lower equal rate (100/s) riskgate p50 <= faust p50 (ratio "
                    "riskgate / faust <= 1)"]
        p99 = goals["issue 11: at the higher equal rate (1000/s) riskgate p99 <= 1.5x aiokafka "
                    "pass-through p99 (ratio)"]
        handler = goals["issue 11: handler <= 40 µs per decision"]
        assert (p50["value"], p50["met"]) == (0.25, True)
        assert (p99["value"], p99["met"], p99["gap"]) == (2.0, False, "1.33x of the goal")
        assert (handler["met"], handler["gap"]) == (False, "1.25x of the goal")

    def test_riskgate_behind_the_rate_misses_the_latency_goal(self) -> None:
        """riskgate unable to keep up at the high rate misses the goal, and the gap says why."""
        # Arrange
        runs = _equal_runs()
        runs["riskgate"][0][1] = _level(1000, 900, 3000, 500, complete=False)
        # Act
        goal = _goal_for(runs, "riskgate p99 <= 1.5x")
        # Assert
        assert (goal["value"], goal["met"]) == (None, False)
        assert goal["gap"] == "riskgate cannot keep up (500/s delivered)"

    def test_a_baseline_behind_the_rate_meets_the_latency_goal(self) -> None:
        """faust unable to keep up at the low rate, riskgate keeping up: the goal is met."""
        # Arrange
        runs = _equal_runs()
        runs["faust"][0][0] = _level(100, 900, 3000, 50, complete=False)
        # Act
        goal = _goal_for(runs, "riskgate p99 <= faust p99")
        # Assert
        assert goal["met"] is True and "faust cannot keep up" in goal["gap"]

    def test_a_goal_without_its_measurement_says_so(self) -> None:
        """With no equal-rate rows the latency goals are 'not measured', never a number."""
        # Arrange
        results = _results()
        results["e2e"]["equal_rate"] = []
        # Act
        goals = [g for g in evaluate(results) if "riskgate p99 <= 1.5x" in g["goal"]]
        # Assert
        assert goals[0]["value"] is None and goals[0]["gap"] == "not measured"


class TestBytesPerDecision:
    def test_totals_are_divided_by_the_decisions(self) -> None:
        """Kafka bytes, row bytes, relation and WAL deltas are each per decision."""
        # Arrange
        kafka = {"a": {"records": 10, "bytes": 5000}, "t": {"records": 10, "bytes": 3000}}
        before = {"relations": {"risk_actions": 1000}}
        after = {"relations": {"risk_actions": 9000}}
        # Act
        b = footprint.per_decision(10, kafka, {"risk_actions": 4000}, before, after, 20000)
        # Assert
        assert b["kafka"]["bytes_per_decision"] == 800 and b["kafka"]["records_per_decision"] == 2
        assert (b["pg_rows"]["bytes_per_decision"], b["pg_relations"]["bytes_per_decision"],
                b["pg_wal"]["bytes_per_decision"]) == (400, 800, 2000)

    def test_record_bytes_count_key_value_and_headers(self) -> None:
        """A record's size is its key, value, header names and header values."""
        # Arrange
        record = SimpleNamespace(key=b"k1", value=b"value", headers=[("h", b"xy")])
        # Act
        size = footprint.record_bytes(record)
        # Assert
        assert size == 2 + 5 + 1 + 2


class TestSecureSection:
    def test_missing_files_give_a_reason_not_a_number(self, tmp_path, monkeypatch) -> None:
        """Without the CA file the section is not measured and says which file is missing."""
        # Arrange
        monkeypatch.setattr(secure, "CA", tmp_path / "ca.pem")
        # Act
        why = secure.secure_settings()
        # Assert
        assert isinstance(why, str) and "ca.pem does not exist" in why

    def test_a_leg_that_fell_behind_is_flagged(self) -> None:
        """A leg whose paced run fell behind the rate has its p99 marked as a backlog."""
        # Arrange
        leg = {"rate_per_s": 900.0, "p50_ms": 800.0, "p99_ms": 2000.0}
        sec = {"measured": True, "listener": "127.0.0.1:9094", "mechanism": "SCRAM-SHA-512",
               "principal": "admin", "paced_rate": 1000,
               "runs": {"plaintext": [{"kept_up": True}], "sasl_ssl": [{"kept_up": False}]},
               "median": {"plaintext": leg, "sasl_ssl": leg},
               "ratio_rate_sasl_plain": {"median": 1.0, "pairs": [1.0]},
               "ratio_p99_sasl_plain": {"median": 1.0, "pairs": [1.0]}}
        # Act
        lines = secure.table(sec)
        # Assert
        flagged = [line for line in lines if "fell behind" in line]
        assert len(flagged) == 1 and flagged[0].startswith("| sasl_ssl |")

    def test_markdown_says_it_was_not_measured(self) -> None:
        """latest.md carries the reason of an unmeasured SASL_SSL section."""
        # Arrange
        results = {**_results(), "secure": {"measured": False, "why": "no listener"}}
        # Act
        text = report.markdown({**results, "goals": evaluate(results)})
        # Assert
        assert "## SASL_SSL against plaintext" in text and "Not measured: no listener" in text


class TestMarkdown:
    def test_equal_rate_table_names_the_omitted_system(self) -> None:
        """The equal-rate table lists every row and says faust was omitted at the high rate."""
        # Arrange
        results = _results()
        # Act
        text = report.markdown({**results, "goals": evaluate(results)})
        # Assert
        assert "Latency at equal absolute rates" in text
        assert "faust at 1,000/s omitted" in text and "| 100 | riskgate |" in text


class TestConfluentPassThrough:
    def test_offsets_are_one_past_the_last_record_of_each_partition(self) -> None:
        """The offsets sent to the transaction are last + 1 per partition."""
        # Arrange
        def msg(partition: int, offset: int) -> SimpleNamespace:
            return SimpleNamespace(topic=lambda: "in", partition=lambda: partition,
                                   offset=lambda: offset)
        messages = [msg(0, 5), msg(1, 7), msg(0, 6)]
        # Act
        offsets = next_offsets(messages)
        # Assert
        assert sorted((tp.partition, tp.offset) for tp in offsets) == [(0, 7), (1, 8)]
