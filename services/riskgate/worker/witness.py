"""The stored witness of one decision: exactly what it saw, so that replay can re-decide it.

Built before the decision runs, so the market versions are those of the book the decision was
assessed against (every held ticker and the decided one). docs/replay.md says how the state at
any action is derived from the witness and the stored histories.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from riskgate.build import build_identity, decision_settings, digest
from riskgate.core import Environment
from riskgate.store.state import PortfolioRow
from riskgate.worker.globals import GlobalState


class WitnessBuilder:
    """Builds the witnesses of one batch; the limits digest is cached per config version."""

    def __init__(self, world: GlobalState, now: float) -> None:
        self._world = world
        self._now = now
        self._settings_digest: str | None = None

    def witness(self, row: PortfolioRow, held: Collection[str], ticker: str | None,
                env: Environment, strategy_id: str) -> bytes:
        """The JSON witness of the decision that takes ``row.seq``. ``held`` are the tickers of
        the portfolio's projected positions (the batch's book keeps exactly those)."""
        market = self._world.market
        tickers = sorted(held if ticker is None or ticker in held else [*held, ticker])
        return orjson.dumps({
            "seq": row.seq,
            "now": self._now,
            "snapshot_version": row.snapshot_version,
            "market_versions": {t: (market[t].version if t in market else -1) for t in tickers},
            "config_version": env.config_version,
            "limits_digest": self._limits_digest(row.portfolio_id, strategy_id, env),
            "emergency_version": env.emergency_version,
            "settings_digest": self._settings(env),
            "build": build_identity(),
        })

    def _limits_digest(self, portfolio_id: str, strategy_id: str, env: Environment) -> str:
        # The config book's own digest of the limits it resolved (env.limits is that object).
        return self._world.config.limits_digest(portfolio_id, strategy_id)

    def _settings(self, env: Environment) -> str:
        if self._settings_digest is None:
            self._settings_digest = digest(settings_in_force(self._world, env))
        return self._settings_digest


def settings_in_force(world: GlobalState, env: Environment) -> dict[str, Any]:
    """The decision-affecting settings: the worker's ages and time-to-live, and the trading day."""
    return {**decision_settings(world), "trading_day_boundary_s": env.trading_day_boundary_s,
            "trading_day_tz": env.trading_day_tz}
