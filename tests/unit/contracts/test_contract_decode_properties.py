"""Properties of decoding: whatever arrives, the decoder answers with a model or a PoisonMessage."""

from __future__ import annotations

import json
import math
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from riskgate.contracts import (
    BlackSwanState,
    ErrorCode,
    ForcedDeriskCommand,
    MarketMetrics,
    PortfolioSnapshot,
    ProposedDecision,
    RiskConfigEvent,
    decode,
    decode_proposed,
    encode,
)
from riskgate.contracts.examples import EXAMPLES
from riskgate.errors import PoisonMessage

pytestmark = pytest.mark.unit

MAX = 65_536
INPUT_MODELS = (BlackSwanState, PortfolioSnapshot, MarketMetrics, RiskConfigEvent)
FIELD_NAMES = sorted({name for body in EXAMPLES.values() for name in body} | {"kind"})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["1.0", "2.0", "PROPOSAL", "FORCED_DERISK", "2026-11-22T14:30:00Z", "AAPL"])
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)
objects = st.dictionaries(keys, json_values, max_size=12)


def outcome(value: bytes, model: type | None = None) -> object:
    """The decoded model, or the PoisonMessage; any other exception fails the property."""
    try:
        if model is None:
            return decode_proposed(value, max_bytes=MAX)
        return decode(model, value, max_bytes=MAX)
    except PoisonMessage as refused:
        assert refused.code in set(ErrorCode)
        assert refused.reason
        return refused


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(has_non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(has_non_finite(item) for item in value)
    return False


class TestDecodeProperties:
    @given(st.binary(max_size=512))
    @example(b"\xef\xbb\xbf{}")
    @example(b'{"a": "\\ud800"}')
    @example(b"[" * 3000)
    @settings(max_examples=400)
    def test_arbitrary_bytes_never_raise_anything_else(self, value: bytes) -> None:
        """Random bytes decode or are refused with a PoisonMessage, and decoded bytes were UTF-8."""
        result = outcome(value)

        if not isinstance(result, PoisonMessage):
            value.decode("utf-8")

    @given(objects)
    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    def test_arbitrary_objects_never_raise_anything_else(self, body: dict[str, Any]) -> None:
        """Random JSON objects, NaN included, decode or are refused on every input topic."""
        value = json.dumps(body, allow_nan=True).encode()

        for model in (None, *INPUT_MODELS):
            outcome(value, model)

    @given(
        st.sampled_from(["ProposedDecision", "ForcedDeriskCommand"]),
        st.sampled_from(FIELD_NAMES),
        json_values,
    )
    @settings(max_examples=400)
    def test_mutated_messages_are_decoded_or_refused_consistently(
        self, name: str, field: str, replacement: Any
    ) -> None:
        """A valid message with one field replaced is either a model or refused with a code; a NUL
        character anywhere is SCHEMA_INVALID, else any NaN or infinity with a supported version is
        always NON_FINITE."""
        body = dict(EXAMPLES[name], **{field: replacement})

        result = outcome(json.dumps(body, allow_nan=True).encode())

        if has_nul(body):  # refused before decoding: PostgreSQL cannot store it
            assert isinstance(result, PoisonMessage) and result.code == ErrorCode.SCHEMA_INVALID
        elif has_non_finite(body) and body["schema_version"] == "1.0":
            assert isinstance(result, PoisonMessage) and result.code == ErrorCode.NON_FINITE
        if not isinstance(result, PoisonMessage):
            assert isinstance(result, ProposedDecision | ForcedDeriskCommand)


def has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string or key of ``value``."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


ids = st.text(
    st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=128
).filter(lambda text: not any(ch.isspace() for ch in text))
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)


class TestRoundTrip:
    @given(
        decision_id=ids,
        ticker=ids,
        quantity=finite,
        confidence=st.floats(min_value=0, max_value=1),
        created_at=st.datetimes(timezones=offsets),
    )
    @settings(max_examples=200)
    def test_valid_proposals_survive_encode_and_decode(
        self, decision_id: str, ticker: str, quantity: float, confidence: float, created_at: Any
    ) -> None:
        """Any valid proposal decodes, and encoding it decodes back to an equal model."""
        body = {
            "schema_version": "1.0",
            "decision_id": decision_id,
            "strategy_id": "s-1",
            "portfolio_id": "pf-1",
            "ticker": ticker,
            "target_quantity": quantity,
            "confidence": confidence,
            "created_at": created_at.isoformat(),
        }

        decoded = decode_proposed(json.dumps(body).encode(), max_bytes=MAX)

        assert decoded == decode_proposed(encode(decoded), max_bytes=MAX)
        assert decoded.created_at == created_at
