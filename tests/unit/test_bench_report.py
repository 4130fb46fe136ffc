"""The bench's latest.json shape and its goals: equal-rate rows, bytes per decision, the stage
table, the SASL_SSL section, the tuning section, and the issue 11 goals for the worker on each
Kafka client (pure functions, no broker)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bench import equal_rate, footprint, procs, report, secure, tuning
from bench.goals import evaluate
from bench.passthrough_confluent import next_offsets

from riskgate.settings import Settings

pytestmark = pytest.mark.unit


def _level(rate: float, p50: float, p99: float, kept: float, complete: bool = True) -> dict:
    return {"target_rate": rate, "kept_rate": kept, "complete": complete, "p50_ms": p50,
            "p99_ms": p99, "max_ms": p99 + 5, "disturbed": False}


def _equal_runs() -> dict[str, list]:
    """Riskgate (both clients) and the pass-through keep up at both rates; faust only at the
    lower one."""
    return {
        "riskgate": [[_level(100, 10, 20, 100), _level(1000, 30, 60, 1000)]],
        "riskgate_confluent": [[_level(100, 12, 20, 100), _level(1000, 25, 40, 1000)]],
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
                "ratio_rc_b": {"median": 0.3, "pairs": [0.3]},
                "ratio_rc_b_confluent": {"median": 0.2, "pairs": [0.2]},
                "ratio_rc_c": {"median": 10.0, "pairs": [10.0]},
                "ratio_rc_a": {"median": 1.2, "pairs": [1.2]},
                "equal_rate": rows},
    }


def _goal_for(runs: dict[str, list], needle: str) -> dict:
    """The goal whose name contains ``needle``, computed with these equal-rate runs."""
    results = _results()
    results["e2e"]["equal_rate"] = equal_rate.summary(runs, [100, 1000])
    return next(g for g in evaluate(results) if needle in g["goal"])


class TestIssue11Goals:
    def test_every_new_goal_is_computed(self) -> None:
        """Throughput, equal-rate latency (for each client), handler and bytes-to-bytes goals
        all get a value."""
        # Arrange
        results = _results()
        # Act
        goals = {g["goal"]: g for g in evaluate(results)}
        # Assert
        new = {k: v for k, v in goals.items() if k.startswith("issue 11")}
        confluent = [k for k in new if k.startswith("issue 11 (riskgate_confluent)")]
        assert len(new) == 12 and len(confluent) == 5
        assert all(g["value"] is not None for g in new.values())
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

    def test_the_confluent_client_goals_use_its_own_rows_and_ratios(self) -> None:
        """riskgate_confluent's goals read ratio_rc_* and its equal-rate rows, not riskgate's."""
        # Arrange
        results = _results()
        # Act
        goals = {g["goal"]: g for g in evaluate(results)}
        # Assert
        prefix = "issue 11 (riskgate_confluent): "
        to_b = goals[prefix + "exactly-once throughput >= 0.4x aiokafka pass-through"]
        to_c = goals[prefix + "exactly-once throughput >= 8x faust"]
        p50 = goals[prefix + "at the lower equal rate (100/s) riskgate_confluent p50 <= faust "
                    "p50 (ratio riskgate_confluent / faust <= 1)"]
        p99 = goals[prefix + "at the higher equal rate (1000/s) riskgate_confluent p99 <= 1.5x "
                    "aiokafka pass-through p99 (ratio)"]
        assert (to_b["value"], to_b["met"], to_c["value"], to_c["met"]) == (0.3, False, 10.0, True)
        assert (p50["value"], p50["met"]) == (0.3, True)
        assert (p99["value"], p99["met"]) == (1.333, True)

    def test_the_confluent_client_behind_misses_only_its_own_goal(self) -> None:
        """riskgate_confluent unable to keep up misses its goal; riskgate's stays met."""
        # Arrange
        runs = _equal_runs()
        runs["riskgate_confluent"][0][1] = _level(1000, 900, 3000, 400, complete=False)
        results = _results()
        results["e2e"]["equal_rate"] = equal_rate.summary(runs, [100, 1000])
        # Act
        goals = [g for g in evaluate(results) if "p99 <= 1.5x" in g["goal"]]
        # Assert
        mine, confluent = goals
        assert mine["goal"].startswith("issue 11: ") and mine["met"] is False  # 60/30 = 2x
        assert (confluent["value"], confluent["met"]) == (None, False)
        assert confluent["gap"] == "riskgate_confluent cannot keep up (400/s delivered)"

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


    def test_the_confluent_client_ratios_are_rendered(self) -> None:
        """latest.md names riskgate on the confluent client and its ratio to each baseline."""
        # Arrange
        results = _results()
        # Act
        text = report.markdown({**results, "goals": evaluate(results)})
        # Assert
        assert "a'/b (aiokafka pass-through) **0.30**" in text
        assert "a'/b' (confluent-kafka pass-through) **0.20**" in text
        assert "a'/c (faust) **10.00**" in text and "a'/a (riskgate on aiokafka) **1.20**" in text


class TestWorkerCommand:
    def test_each_client_gets_its_setting_and_the_tuned_values(self) -> None:
        """The worker's env names its Kafka client and carries linger, batch size and timeout."""
        # Arrange
        s = tuning.Config("riskgate_confluent", 5, 100, 10).settings()
        # Act
        _, confluent = procs.command("riskgate_confluent", s, 0)
        _, aiokafka = procs.command("riskgate", s, 0)
        # Assert
        assert (confluent["RISKGATE_KAFKA_CLIENT"], aiokafka["RISKGATE_KAFKA_CLIENT"]) == (
            "confluent", "aiokafka")
        assert (confluent["RISKGATE_PUBLISH_LINGER_MS"], confluent["RISKGATE_BATCH_MAX_RECORDS"],
                confluent["RISKGATE_BATCH_TIMEOUT_MS"]) == ("5", "100", "10")


def _tuning_run(rate: float | None, p99: float, kept_up: bool = True) -> dict:
    return {"rate_per_s": rate, "window_s": 3.0, "kept_up": kept_up,
            "paced": {"p50_ms": p99 / 2, "p99_ms": p99, "max_ms": p99 + 1}}


_SHIPPED_LINGER_MS = Settings.model_fields["publish_linger_ms"].default


class TestTuning:
    def test_the_grid_interleaves_the_clients_around_the_defaults(self) -> None:
        """Linger 0/2/5 x batch 100/500, plus the short timeout, for each client, alternating."""
        # Arrange: the shipped defaults (the grid follows settings.py when they change)
        expected_default = ("riskgate", _SHIPPED_LINGER_MS, 500, 50)
        # Act
        configs = tuning.grid()
        # Assert
        assert tuple(tuning.default("riskgate")) == expected_default
        assert len(configs) == 14 and len(set(configs)) == 14
        assert [c.system for c in configs[:2]] == ["riskgate", "riskgate_confluent"]
        assert {c.timeout_ms for c in configs
                if c.linger_ms != _SHIPPED_LINGER_MS or c.batch_max != 500} == {50}

    def test_summary_compares_each_configuration_with_its_clients_default(self) -> None:
        """Ratios are taken round by round against the same client's default run."""
        # Arrange
        base, other = tuning.default("riskgate"), tuning.Config("riskgate", 0, 100, 50)
        runs = {base.key: [_tuning_run(1000, 100), _tuning_run(2000, 200)],
                other.key: [_tuning_run(1500, 50), _tuning_run(2000, 100)]}
        # Act
        rows = tuning.summary([base, other], runs)
        # Assert
        row = rows[1]
        assert row["is_default"] is False and rows[0]["is_default"] is True
        assert row["rate_vs_default"] == {"pairs": [1.5, 1.0], "median": 1.25}
        assert row["p99_vs_default"] == {"pairs": [0.5, 0.5], "median": 0.5}

    def test_a_round_that_fell_behind_gives_no_latency(self) -> None:
        """A paced run under the rate counts for throughput only, and the row says so."""
        # Arrange
        base = tuning.default("riskgate_confluent")
        runs = {base.key: [_tuning_run(1000, 100), _tuning_run(1200, 9000, kept_up=False)]}
        # Act
        row = tuning.summary([base], runs)[0]
        # Assert
        assert (row["rate_per_s"], row["p99_ms"], row["kept_up"]) == (1100, 100, False)

    def test_the_table_marks_the_defaults(self) -> None:
        """latest.md has one row per configuration, the client's default marked."""
        # Arrange
        base = tuning.default("riskgate")
        section = {"measured": True, "rounds": 1, "decisions": 100, "paced_rate": 500,
                   "summary": tuning.summary([base], {base.key: [_tuning_run(900, 80)]})}
        # Act
        text = report.markdown({"tuning": section})
        # Assert
        assert "## Linger and batch tuning" in text
        assert f"| aiokafka (default) | {_SHIPPED_LINGER_MS} | 500 | 50 | 900 | 1.00 |" in text


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
