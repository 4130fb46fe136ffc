"""Seed 001's API: apply_risk_constraints(decisions, ...) -> targets and risk actions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from riskgate.core import (
    Environment,
    MarketData,
    Outcome,
    Portfolio,
    PortfolioBook,
    Proposal,
    action_id,
    assess_batch,
)  # fmt: skip

_PROPOSAL_FIELDS = ("decision_id", "strategy_id", "portfolio_id", "ticker", "target_quantity",
                    "target_weight", "confidence", "created_at", "reference_price",
                    "stop_loss", "take_profit", "horizon", "metadata")  # fmt: skip


class RiskResult(NamedTuple):
    """Final targets (ordered by priority) and one risk action per decision."""

    targets: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def _proposal(decision: Proposal | Mapping[str, Any]) -> Proposal:
    if isinstance(decision, Proposal):
        return decision
    unknown = set(decision) - set(_PROPOSAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown decision fields: {', '.join(sorted(unknown))}")
    return Proposal(**decision)


def _target(o: Outcome) -> dict[str, Any]:
    return {"action_id": action_id(o.decision_id), "decision_id": o.decision_id,
            "portfolio_id": o.portfolio_id, "strategy_id": o.strategy_id, "ticker": o.ticker,
            "target_position": o.target_position, "delta_position": o.delta_position,
            "target_notional": o.target_notional, "target_weight": o.target_weight,
            "priority": o.priority, "action_type": o.action_type.value,
            "risk_reasoning_summary": o.risk_reasoning_summary}


def _action(o: Outcome) -> dict[str, Any]:
    return {"action_id": action_id(o.decision_id), "timestamp": o.now,
            "decision_id": o.decision_id, "portfolio_id": o.portfolio_id,
            "strategy_id": o.strategy_id, "ticker": o.ticker,
            "action_type": o.action_type.value, "reason_codes": list(o.reason_codes),
            "risk_reasoning_summary": o.risk_reasoning_summary,
            "details_json": json.dumps(o.details(), sort_keys=True)}


def apply_risk_constraints(decisions: Iterable[Proposal | Mapping[str, Any]],
                           portfolio: Portfolio | PortfolioBook,
                           markets: Mapping[str, MarketData],
                           env: Environment | None = None) -> RiskResult:
    """Run every decision through the chain in order (each sees the targets before it).

    Without ``env`` the processing time is the latest ``created_at`` (no clock is read).
    Targets come back ordered by priority, then by larger |delta notional|."""
    proposals = [_proposal(d) for d in decisions]
    if env is None:
        env = Environment(now=max((p.created_at for p in proposals), default=0.0))
    book = portfolio.copy() if isinstance(portfolio, PortfolioBook) else PortfolioBook(
        portfolio, markets)
    outcomes = assess_batch(proposals, book, markets, env)
    ordered = sorted(outcomes, key=lambda o: (o.priority, -abs(o.delta_position * o.unit)
                                              if o.unit == o.unit else 0.0))
    return RiskResult([_target(o) for o in ordered], [_action(o) for o in outcomes])
