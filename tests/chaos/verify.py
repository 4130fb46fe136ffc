"""Check a chaos run: exactly one answer per decision, nothing lost, and the same answers as a
single-process sequential reference run of the core over the recorded inputs."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from riskgate.contracts.inputs import MarketMetrics, ProposedDecision
from riskgate.core import (
    ActionType,
    EmergencyLevel,
    Portfolio,
    PortfolioBook,
    assess,
    plan_forced_derisk,
)
from riskgate.settings import Settings
from riskgate.store import state as db
from riskgate.store.connect import connect as db_connect
from riskgate.worker import codec
from riskgate.worker.globals import EmergencyState, GlobalState

EPS = 1e-6


@dataclass
class Expected:
    """Everything the harness published, by id and version."""

    portfolio_ids: list[str]
    run: str
    decisions: dict[str, dict] = field(default_factory=dict)
    market: dict[tuple[str, int], dict] = field(default_factory=dict)
    snapshots: dict[tuple[str, int], dict] = field(default_factory=dict)
    configs: list[dict] = field(default_factory=list)
    emergencies: list[dict] = field(default_factory=list)


def _count_outputs(expected: Expected, actions, targets) -> dict[str, Any]:
    """Exactly-once on the topics: every action_id once; every decision answered once."""
    problems: list[str] = []
    action_ids = Counter(a["action_id"] for _, a in actions)
    target_ids = Counter(t["action_id"] for _, t in targets)
    dup_records = sum(n - 1 for n in action_ids.values()) + sum(n - 1 for n in target_ids.values())
    answered = defaultdict(int)
    duplicate_actions = 0
    for _, a in actions:
        if a["action_type"] == "DUPLICATE":
            duplicate_actions += 1
        elif a["decision_id"] in expected.decisions:
            answered[a["decision_id"]] += 1
    targeted = Counter(t["decision_id"] for _, t in targets if t["decision_id"] in expected.decisions)
    lost = [d for d in expected.decisions if answered[d] == 0 or targeted[d] == 0]
    extra = [d for d in expected.decisions if answered[d] > 1 or targeted[d] > 1]
    problems += [f"lost {d}" for d in lost[:10]] + [f"answered twice {d}" for d in extra[:10]]
    return {"decisions": len(expected.decisions), "actions": sum(answered.values()),
            "targets": sum(targeted.values()), "duplicates": dup_records + len(extra),
            "lost": len(lost), "duplicate_typed_actions": duplicate_actions, "problems": problems}


async def _stored(s: Settings, expected: Expected) -> tuple[list, dict, int]:
    conn = await db_connect(s)
    await db.init_connection(conn)
    try:
        rows = await conn.fetch(
            "SELECT a.*, t.target_position FROM risk_actions a "
            "LEFT JOIN target_positions t USING (action_id) WHERE a.portfolio_id = ANY($1::text[]) "
            "ORDER BY a.source_partition, a.source_offset, a.seq", expected.portfolio_ids)
        states = await db.load_portfolios(conn, expected.portfolio_ids)
        per_decision = await conn.fetch(
            "SELECT decision_id, count(*) AS n FROM risk_actions WHERE portfolio_id = ANY($1::text[]) "
            "AND action_type <> 'DUPLICATE' AND decision_id NOT LIKE 'derisk:%' "
            "GROUP BY decision_id HAVING count(*) <> 1", expected.portfolio_ids)
    finally:
        await conn.close()
    return rows, states, len(per_decision)


class Reference:
    """The sequential run: one book per portfolio, inputs rebuilt at the recorded versions."""

    def __init__(self, s: Settings, expected: Expected) -> None:
        self.expected = expected
        self.world = GlobalState(snapshot_ttl_s=86400, max_decision_age_s=120.0,
                                 max_snapshot_age_s=86400.0, max_price_age_s=86400.0)
        for body in expected.market.values():
            self.world.apply_market(codec.market(MarketMetrics.model_validate_json(orjson.dumps(body))))
        self.books: dict[str, PortfolioBook] = {}
        self.cap_breaches: list[str] = []
        self.compared = 0

    def book(self, pid: str) -> PortfolioBook:
        if pid not in self.books:
            snap = self.expected.snapshots[(pid, 1)]
            portfolio = Portfolio(pid, snap["equity"], snap["pnl_today"], snap["peak_equity"], None,
                                  {p["ticker"]: p["quantity"] for p in snap["positions"]},
                                  _ts(snap["as_of"]), 1)
            self.books[pid] = PortfolioBook(portfolio, self.world.market)
        return self.books[pid]

    def env(self, row, now: float):
        config = GlobalState().config
        for body in self.expected.configs:
            if body["version"] <= row["config_version"]:
                config.apply(body["version"], body["scope"], body.get("scope_id"), body.get("profile"),
                             body.get("limits"), body.get("trading_state"))
        self.world.config = config
        em = EmergencyState()
        for body in self.expected.emergencies:
            if body["version"] == row["emergency_version"]:
                em = EmergencyState(EmergencyLevel(body["level"]), body["version"], body["event_id"],
                                    _ts(body["as_of"]), body["sop"]["gross_cut_pct"])
        self.world.emergency = em
        return self.world.environment(row["portfolio_id"], row["strategy_id"], now)

    def replay(self, rows) -> list[str]:
        mismatches: list[str] = []
        by_record: dict[tuple[int, int], list] = defaultdict(list)
        for r in rows:
            by_record[(r["source_partition"], r["source_offset"])].append(r)
        for legs in by_record.values():
            first = legs[0]
            if first["action_type"] == "DUPLICATE" or first["reason_codes"] == ["NO_SNAPSHOT"]:
                continue
            now = first["timestamp"].timestamp()
            env = self.env(first, now)
            book = self.book(first["portfolio_id"])
            if first["decision_id"].startswith("derisk:"):
                cut = self.expected.emergencies[0]["sop"]["gross_cut_pct"]
                outcomes = plan_forced_derisk(book, self.world.market, env, cut)
            else:
                body = self.expected.decisions[first["decision_id"]]
                proposal = codec.proposal(ProposedDecision.model_validate_json(orjson.dumps(body)))
                outcomes = [assess(proposal, book, self.world.market.get(proposal.ticker), env)]
            mismatches += self._compare(legs, outcomes)
            self.compared += 1
            for outcome in outcomes:
                self._check_caps(book, outcome, env)
                book.apply(outcome)
        return mismatches

    @staticmethod
    def _compare(legs, outcomes) -> list[str]:
        if len(legs) != len(outcomes) and not (legs[0]["reason_codes"] == ["NOTHING_TO_CUT"] and not outcomes):
            return [f"{legs[0]['decision_id']}: {len(legs)} legs stored, reference has {len(outcomes)}"]
        out = []
        for leg, outcome in zip(legs, outcomes, strict=False):
            same_type = leg["action_type"] == outcome.action_type.value
            if not same_type or abs(leg["target_position"] - outcome.target_position) > EPS:
                out.append(f"{leg['decision_id']} {leg['ticker']}: stored {leg['action_type']} "
                           f"{leg['target_position']}, reference {outcome.action_type.value} "
                           f"{outcome.target_position}")
        return out

    def _check_caps(self, book: PortfolioBook, outcome, env) -> None:
        if outcome.action_type not in (ActionType.OK, ActionType.CAPPED, ActionType.SCALED_DOWN):
            return
        if abs(outcome.target_position) <= abs(outcome.current):
            return  # de-risking never breaches a cap it was not already over
        limits = outcome.limits
        weight = abs(outcome.target_notional) / book.equity
        if limits.per_name_weight_cap is not None and weight > limits.per_name_weight_cap + EPS:
            self.cap_breaches.append(f"{outcome.proposal.decision_id}: weight {weight:.4f}")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _foreign(actions, expected: Expected) -> set[str]:
    """Actions on the topic for portfolios outside this run (none expected)."""
    ours = set(expected.portfolio_ids)
    return {a["action_id"] for _, a in actions if a["portfolio_id"] not in ours}


async def stored_counts(s: Settings, portfolio_ids: list[str]) -> tuple[int, int]:
    """How many actions and targets PostgreSQL holds for these portfolios (what Kafka must show)."""
    conn = await db_connect(s)
    try:
        actions = await conn.fetchval("SELECT count(*) FROM risk_actions WHERE portfolio_id = ANY($1::text[])",
                                      portfolio_ids)
        targets = await conn.fetchval("SELECT count(*) FROM target_positions WHERE portfolio_id = ANY($1::text[])",
                                      portfolio_ids)
    finally:
        await conn.close()
    return actions, targets


async def verify(s: Settings, expected: Expected, actions, targets) -> dict[str, Any]:
    report = _count_outputs(expected, actions, targets)
    rows, states, bad_rows = await _stored(s, expected)
    # Every stored output must be on the topic exactly once, forced de-risk legs included.
    on_topic = {a["action_id"] for _, a in actions}
    stored_ids = {str(r["action_id"]) for r in rows}
    unpublished = sorted(stored_ids - on_topic)
    phantom = sorted(on_topic - stored_ids - _foreign(actions, expected))
    report["lost"] += len(unpublished)
    report["duplicates"] += len(phantom)
    report["problems"] += [f"stored, never published: {a}" for a in unpublished[:10]]
    report["problems"] += [f"published, never stored: {a}" for a in phantom[:10]]
    reference = Reference(s, expected)
    mismatches = reference.replay(rows)
    for pid in expected.portfolio_ids:
        stored = states[pid].projected(0.0, 1.0) if pid in states else {}  # every pending target
        ref = {t: q for t, q in reference.book(pid).positions.items() if q}
        if set(stored) != set(ref) or any(abs(stored[t] - ref[t]) > EPS for t in ref):
            mismatches.append(f"{pid}: final positions differ: stored {stored} reference {ref}")
    report["mismatches"] = len(mismatches) + len(reference.cap_breaches)
    report["rows_not_exactly_one"] = bad_rows
    report["duplicates"] += bad_rows
    report["problems"] += mismatches[:20] + reference.cap_breaches[:10]
    report["cap_breaches"] = len(reference.cap_breaches)
    report["reference_compared"] = reference.compared
    return report
