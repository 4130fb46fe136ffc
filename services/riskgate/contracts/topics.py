"""Which messages travel on which topic, under which key, in which direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from riskgate.contracts.base import ID_PATTERN
from riskgate.contracts.inputs import (
    BlackSwanState,
    ForcedDeriskCommand,
    MarketMetrics,
    PortfolioSnapshot,
    ProposedDecision,
    RiskConfigEvent,
)
from riskgate.contracts.outputs import (
    DeadLetter,
    OverrideStats,
    RiskAction,
    ShadowRecord,
    TargetPosition,
)
from riskgate.settings import Topics

CONFIG_KEY_PATTERN = r"^(global|profile:\S+|strategy:\S+|portfolio:\S+)$"


def _id_key(field: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": 128,
        "pattern": ID_PATTERN,
        "description": f"The message's {field}.",
    }


@dataclass(frozen=True)
class TopicContract:
    """One topic: what riskgate reads from it and writes to it, and how records are keyed."""

    setting: str
    """The attribute of ``riskgate.settings.Topics`` that names the topic."""
    summary: str
    key: dict[str, Any]
    """JSON Schema of the record key (a UTF-8 string)."""
    cleanup: str
    receives: tuple[type[BaseModel], ...] = ()
    sends: tuple[type[BaseModel], ...] = ()

    @property
    def address(self) -> str:
        """The default topic name."""
        return str(getattr(Topics(), self.setting))

    @property
    def messages(self) -> tuple[type[BaseModel], ...]:
        """Every message kind on the topic, each once, in declaration order."""
        return tuple(dict.fromkeys(self.receives + self.sends))


TOPICS: tuple[TopicContract, ...] = (
    TopicContract(
        setting="proposed",
        summary="Proposals from strategies, and the forced de-risk commands riskgate writes.",
        key=_id_key("portfolio_id"),
        cleanup="delete",
        receives=(ProposedDecision, ForcedDeriskCommand),
        sends=(ForcedDeriskCommand,),
    ),
    TopicContract(
        setting="black_swan",
        summary="Emergency state per scope from the black swan engine.",
        key=_id_key("scope"),
        cleanup="compact",
        receives=(BlackSwanState,),
    ),
    TopicContract(
        setting="snapshots",
        summary="Positions, equity and P&L per portfolio.",
        key=_id_key("portfolio_id"),
        cleanup="compact",
        receives=(PortfolioSnapshot,),
    ),
    TopicContract(
        setting="market",
        summary="Price, liquidity and reference data per instrument.",
        key=_id_key("ticker"),
        cleanup="compact",
        receives=(MarketMetrics,),
    ),
    TopicContract(
        setting="config",
        summary="Profile, limit and trading-state changes.",
        key={
            "type": "string",
            "pattern": CONFIG_KEY_PATTERN,
            "description": "global, profile:<name>, strategy:<id> or portfolio:<id>.",
        },
        cleanup="compact",
        receives=(RiskConfigEvent,),
    ),
    TopicContract(
        setting="targets",
        summary="Final target positions for execution.",
        key=_id_key("portfolio_id"),
        cleanup="delete",
        sends=(TargetPosition,),
    ),
    TopicContract(
        setting="actions",
        summary="The audit record of every risk action.",
        key=_id_key("portfolio_id"),
        cleanup="delete",
        sends=(RiskAction,),
    ),
    TopicContract(
        setting="dlq",
        summary="Records of decisions.proposed that can never be processed.",
        key={"type": "string", "description": "The original record's key, unchanged."},
        cleanup="delete",
        sends=(DeadLetter,),
    ),
    TopicContract(
        setting="shadow",
        summary="Live against candidate outcome per decision, while a shadow config is set.",
        key=_id_key("portfolio_id"),
        cleanup="delete",
        sends=(ShadowRecord,),
    ),
    TopicContract(
        setting="override_stats",
        summary="Override counts per strategy, action type and reason code per tumbling UTC "
        "window, written by riskgate stats.",
        key=_id_key("strategy_id"),
        cleanup="delete",
        sends=(OverrideStats,),
    ),
)
