"""bench/core_bench.py stays importable and returns its numbers (never a timed assertion)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[2] / "bench" / "core_bench.py"


def _load():
    spec = importlib.util.spec_from_file_location("core_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestCoreBench:
    def test_measure_returns_the_numbers(self) -> None:
        """measure() returns µs per decision and a mix of outcomes for a small run."""
        # Arrange
        bench = _load()
        # Act
        result = bench.measure(positions=10, decisions=50, rounds=1)
        # Assert
        assert result["us_per_decision_chain_with_trace"] > 0
        assert sum(result["action_types"].values()) == 50

    def test_scenario_is_deterministic(self) -> None:
        """The benchmark's proposals are the same on every build."""
        # Arrange
        bench = _load()
        # Act
        first, second = bench.scenario(20, 30), bench.scenario(20, 30)
        # Assert
        assert first[2] == second[2] and first[0].positions == second[0].positions
