"""Decoding record bytes into wire models, and every way a record is refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

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
    unknown_fields,
)
from riskgate.contracts.examples import EXAMPLES
from riskgate.errors import PoisonMessage

pytestmark = pytest.mark.unit

MAX = 65_536
DROP = object()


def message(name: str, **changes: Any) -> dict[str, Any]:
    """The example ``name`` with fields replaced, or removed when the value is ``DROP``."""
    body = copy.deepcopy(EXAMPLES[name])
    for field, value in changes.items():
        if value is DROP:
            body.pop(field, None)
        else:
            body[field] = value
    return body


def raw(body: Any) -> bytes:
    """JSON bytes; Python's encoder writes NaN and Infinity tokens as a careless producer would."""
    return json.dumps(body, allow_nan=True).encode()


def proposal(**changes: Any) -> bytes:
    return raw(message("ProposedDecision", **changes))


def refusal(value: bytes | None, model: type | None = None) -> PoisonMessage:
    """The PoisonMessage decoding ``value`` raises; fails the test when it decodes."""
    with pytest.raises(PoisonMessage) as caught:
        if model is None:
            decode_proposed(value, max_bytes=MAX)
        else:
            decode(model, value, max_bytes=MAX)
    return caught.value


class TestDecodeProposedAccepts:
    def test_valid_proposal_decodes_with_its_values(self) -> None:
        """A valid proposal decodes into a ProposedDecision carrying the sent values."""
        decoded = decode_proposed(proposal(), max_bytes=MAX)

        assert isinstance(decoded, ProposedDecision)
        assert decoded.decision_id == "dec-2026-11-22-000123"
        assert decoded.target_quantity == 150.0
        assert decoded.target_weight is None
        assert decoded.created_at.utcoffset() is not None

    def test_kind_defaults_to_proposal(self) -> None:
        """A proposal without ``kind`` is a PROPOSAL."""
        decoded = decode_proposed(proposal(kind=DROP), max_bytes=MAX)

        assert isinstance(decoded, ProposedDecision)
        assert decoded.kind == "PROPOSAL"

    def test_target_weight_alone_is_accepted(self) -> None:
        """A proposal with only target_weight is valid."""
        decoded = decode_proposed(
            proposal(target_quantity=DROP, target_weight=-0.05), max_bytes=MAX
        )

        assert isinstance(decoded, ProposedDecision)
        assert decoded.target_weight == -0.05

    def test_forced_derisk_command_decodes(self) -> None:
        """A FORCED_DERISK record decodes into a ForcedDeriskCommand."""
        decoded = decode_proposed(raw(EXAMPLES["ForcedDeriskCommand"]), max_bytes=MAX)

        assert isinstance(decoded, ForcedDeriskCommand)
        assert decoded.gross_cut_pct == 0.5

    def test_escaped_forced_kind_is_still_a_command(self) -> None:
        """The kind is read from the JSON value, not guessed from the raw bytes alone."""
        value = raw(EXAMPLES["ForcedDeriskCommand"]).replace(
            b"FORCED_DERISK", b"FORCED\\u005fDERISK"
        )

        assert isinstance(decode_proposed(value, max_bytes=MAX), ForcedDeriskCommand)

    def test_forced_kind_inside_metadata_is_still_a_proposal(self) -> None:
        """A proposal whose metadata mentions FORCED_DERISK stays a proposal."""
        value = proposal(metadata={"note": "FORCED_DERISK"})

        assert isinstance(decode_proposed(value, max_bytes=MAX), ProposedDecision)

    def test_newer_minor_version_is_read(self) -> None:
        """A later minor of the supported major is accepted."""
        decoded = decode_proposed(proposal(schema_version="1.7"), max_bytes=MAX)

        assert decoded.schema_version == "1.7"

    def test_unknown_fields_are_accepted_and_counted(self) -> None:
        """Unknown fields do not refuse the record; they are listed for the counter."""
        decoded = decode_proposed(proposal(venue="XNAS", urgency=3), max_bytes=MAX)

        assert unknown_fields(decoded) == ["venue", "urgency"]
        assert not hasattr(ProposedDecision, "venue")

    def test_known_message_has_no_unknown_fields(self) -> None:
        """The example proposal has nothing to count."""
        assert unknown_fields(decode_proposed(proposal(), max_bytes=MAX)) == []

    def test_value_of_exactly_max_bytes_is_decoded(self) -> None:
        """The size limit is inclusive."""
        value = proposal()
        value = value[:-1] + b" " * 10 + b"}"

        assert isinstance(decode_proposed(value, max_bytes=len(value)), ProposedDecision)


class TestDecodeProposedRefuses:
    @pytest.mark.parametrize(
        ("value", "code"),
        [
            (None, ErrorCode.EMPTY),
            (b"", ErrorCode.EMPTY),
            (b"\xff\xfe{}", ErrorCode.NOT_UTF8),
            (b'{"ticker": "\xc3("}', ErrorCode.NOT_UTF8),
            (b'{"schema_version": "1.0",', ErrorCode.NOT_JSON),
            (b"schema_version=1.0", ErrorCode.NOT_JSON),
            (b'{"a": 1} {"b": 2}', ErrorCode.NOT_JSON),
            (b"[1, 2]", ErrorCode.NOT_OBJECT),
            (b'"a string"', ErrorCode.NOT_OBJECT),
            (b"42", ErrorCode.NOT_OBJECT),
            (b"null", ErrorCode.NOT_OBJECT),
        ],
    )
    def test_unreadable_record_gets_its_code(self, value: bytes | None, code: ErrorCode) -> None:
        """Empty, non-UTF-8, non-JSON and non-object records each get their own code."""
        assert refusal(value).code == code

    @pytest.mark.parametrize("field", ["strategy_id", "ticker", "metadata"])
    def test_nul_character_anywhere_is_schema_invalid(self, field: str) -> None:
        """A NUL character in any string (PostgreSQL cannot store it) is refused, not decided."""
        value = {"note": "a\x00b"} if field == "metadata" else "a\x00b"

        refused = refusal(proposal(**{field: value}))

        assert refused.code == ErrorCode.SCHEMA_INVALID and "NUL" in refused.reason

    def test_escaped_backslash_before_u0000_is_text(self) -> None:
        """The six characters \\u0000 written as text (an escaped backslash) are accepted."""
        accepted = decode_proposed(proposal(metadata={"note": "\\u0000"}), max_bytes=MAX)

        assert accepted.metadata == {"note": "\\u0000"}

    def test_number_sent_as_string_is_schema_invalid(self) -> None:
        """A quantity sent as a string is refused, and the reason names the field and the type."""
        refused = refusal(proposal(target_quantity="150"))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert (
            refused.reason == 'target_quantity: Input should be a valid number (got string "150")'
        )

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("confidence", True),
            ("confidence", "0.7"),
            ("ticker", 7),
            ("created_at", 1_700_000_000),
            ("metadata", ["not", "an", "object"]),
            ("horizon", 5),
        ],
    )
    def test_wrong_type_is_schema_invalid(self, field: str, value: Any) -> None:
        """A value of the wrong JSON type is SCHEMA_INVALID and named in the reason."""
        refused = refusal(proposal(**{field: value}))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith(f"{field}: ")

    def test_missing_fields_are_all_named(self) -> None:
        """Every missing required field appears in the reason."""
        refused = refusal(proposal(decision_id=DROP, confidence=DROP))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert "decision_id: Field required" in refused.reason
        assert "confidence: Field required" in refused.reason

    @pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_finite_number_is_non_finite(self, token: bytes) -> None:
        """NaN, Infinity and -Infinity in a number field are NON_FINITE."""
        value = proposal(confidence=0.123456).replace(b"0.123456", token)

        refused = refusal(value)

        assert refused.code == ErrorCode.NON_FINITE
        assert refused.reason.startswith("confidence: ")

    def test_overflowing_number_is_non_finite(self) -> None:
        """A number too large for a double is NON_FINITE, like Infinity."""
        assert (
            refusal(proposal(target_quantity=5).replace(b": 5,", b": 1e400,")).code
            == ErrorCode.NON_FINITE
        )

    @pytest.mark.parametrize(
        "changes",
        [
            {"metadata": {"scores": [1.0, float("nan")]}},
            {"venue_score": float("inf")},
            {"metadata": {"x": float("-inf")}, "decision_id": DROP},
        ],
    )
    def test_non_finite_anywhere_is_non_finite(self, changes: dict[str, Any]) -> None:
        """NaN inside free-form or unknown fields is NON_FINITE too, even beside other errors."""
        assert refusal(proposal(**changes)).code == ErrorCode.NON_FINITE

    @pytest.mark.parametrize("field", ["reference_price", "stop_loss", "take_profit"])
    def test_negative_price_is_schema_invalid(self, field: str) -> None:
        """A price of -1 is refused and named."""
        refused = refusal(proposal(**{field: -1}))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith(f"{field}: Input should be greater than 0")

    @pytest.mark.parametrize(
        ("field", "value"), [("confidence", 1.01), ("confidence", -0.1), ("target_weight", 10.5)]
    )
    def test_value_out_of_range_is_schema_invalid(self, field: str, value: float) -> None:
        """Confidence outside [0, 1] and a weight outside [-10, 10] are refused."""
        changes = (
            {field: value, "target_quantity": DROP} if field == "target_weight" else {field: value}
        )

        refused = refusal(proposal(**changes))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith(f"{field}: ")

    @pytest.mark.parametrize("kind", ["FOO", "proposal", 1])
    def test_unknown_kind_is_schema_invalid(self, kind: Any) -> None:
        """A kind outside the closed set is refused with both allowed values named."""
        refused = refusal(proposal(kind=kind))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith("kind: Input should be 'PROPOSAL' or 'FORCED_DERISK'")

    @pytest.mark.parametrize("version", ["2.0", "0.9", "10.1"])
    def test_unsupported_major_is_unsupported_version(self, version: str) -> None:
        """A major other than 1 is UNSUPPORTED_VERSION, whatever else is wrong."""
        refused = refusal(proposal(schema_version=version, target_quantity="x"))

        assert refused.code == ErrorCode.UNSUPPORTED_VERSION
        assert "is not supported" in refused.reason

    @pytest.mark.parametrize("version", [DROP, "1", "1.0.0", "v1.0", 1.0, None, "01.0"])
    def test_missing_or_malformed_version_is_unsupported_version(self, version: Any) -> None:
        """A missing or malformed schema_version is UNSUPPORTED_VERSION (documented choice)."""
        refused = refusal(proposal(schema_version=version))

        assert refused.code == ErrorCode.UNSUPPORTED_VERSION
        assert refused.reason.startswith("schema_version: ")

    def test_oversize_is_refused_before_decoding(self) -> None:
        """A value over the limit is OVERSIZE even when its bytes are not UTF-8 at all."""
        refused = refusal(b"\xff" * (MAX + 1))

        assert refused.code == ErrorCode.OVERSIZE
        assert str(MAX) in refused.reason

    def test_oversize_valid_proposal_is_refused(self) -> None:
        """A valid proposal one byte over the limit is OVERSIZE."""
        value = proposal()

        with pytest.raises(PoisonMessage) as caught:
            decode_proposed(value, max_bytes=len(value) - 1)

        assert caught.value.code == ErrorCode.OVERSIZE

    @pytest.mark.parametrize(
        "stamp", ["2026-11-22T14:30:00", "2026-11-22T14:30:00.250", "2026-11-22"]
    )
    def test_timestamp_without_offset_is_refused(self, stamp: str) -> None:
        """A created_at without an offset is SCHEMA_INVALID."""
        refused = refusal(proposal(created_at=stamp))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith("created_at: ")

    def test_both_targets_are_refused(self) -> None:
        """Sending target_quantity and target_weight together is SCHEMA_INVALID."""
        refused = refusal(proposal(target_weight=0.1))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert (
            refused.reason == "target_quantity, target_weight: exactly one is required (got both)"
        )

    def test_neither_target_is_refused(self) -> None:
        """Sending neither target is SCHEMA_INVALID."""
        refused = refusal(proposal(target_quantity=DROP))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert "(got neither)" in refused.reason

    @pytest.mark.parametrize("value", ["", "has space", "tab\there", "x" * 129])
    def test_bad_id_is_refused(self, value: str) -> None:
        """An empty id, one with whitespace or one over 128 characters is refused."""
        refused = refusal(proposal(decision_id=value))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith("decision_id: ")

    def test_take_profit_on_the_loss_side_is_refused(self) -> None:
        """A take-profit on the same side of the reference price as the stop is refused."""
        refused = refusal(proposal(stop_loss=182.0, take_profit=180.0))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith("take_profit: ")

    def test_forced_command_with_foreign_decision_id_is_refused(self) -> None:
        """A de-risk command's decision_id must be derived from its event and portfolio."""
        body = message("ForcedDeriskCommand", decision_id="derisk:other:pf-growth-01")

        assert refusal(raw(body)).code == ErrorCode.SCHEMA_INVALID

    def test_forced_command_without_cut_is_refused(self) -> None:
        """A de-risk command needs gross_cut_pct in (0, 1]."""
        refused = refusal(raw(message("ForcedDeriskCommand", gross_cut_pct=0)))

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith("gross_cut_pct: ")


class TestDecodeOtherTopics:
    def test_every_input_example_decodes(self) -> None:
        """Each input topic's example decodes into its model."""
        for model in (BlackSwanState, PortfolioSnapshot, MarketMetrics, RiskConfigEvent):
            assert isinstance(decode(model, raw(EXAMPLES[model.__name__]), max_bytes=MAX), model)

    def test_market_price_zero_is_refused(self) -> None:
        """A market price of 0 is SCHEMA_INVALID and named."""
        refused = refusal(raw(message("MarketMetrics", price=0)), MarketMetrics)

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason == "price: Input should be greater than 0 (got number 0)"

    def test_market_defaults_are_applied(self) -> None:
        """Optional market fields take the documented defaults."""
        body = {
            k: v
            for k, v in EXAMPLES["MarketMetrics"].items()
            if k in {"schema_version", "ticker", "version", "as_of", "price", "adv", "spread_bps"}
        }

        decoded = decode(MarketMetrics, raw(body), max_bytes=MAX)

        assert (decoded.tick_size, decoded.lot_size, decoded.multiplier, decoded.fx_to_base) == (
            0.01,
            1,
            1,
            1,
        )
        assert (decoded.currency, decoded.sector, decoded.country, decoded.cluster) == (
            "USD",
            "UNKNOWN",
            "UNKNOWN",
            "UNKNOWN",
        )
        assert decoded.regime is None and decoded.factors == {}

    def test_unknown_enum_value_is_refused(self) -> None:
        """An emergency level outside the enum is SCHEMA_INVALID."""
        refused = refusal(raw(message("BlackSwanState", level="PANIC")), BlackSwanState)

        assert refused.code == ErrorCode.SCHEMA_INVALID
        assert refused.reason.startswith(
            "level: Input should be 'NORMAL', 'ELEVATED' or 'EMERGENCY'"
        )

    def test_unknown_regime_is_refused(self) -> None:
        """A regime outside the enum is SCHEMA_INVALID."""
        assert (
            refusal(raw(message("MarketMetrics", regime="BULL")), MarketMetrics).code
            == ErrorCode.SCHEMA_INVALID
        )

    def test_factor_loading_as_string_is_refused(self) -> None:
        """Factor loadings are numbers; the reason names the factor."""
        refused = refusal(
            raw(message("MarketMetrics", factors={"momentum": "high"})), MarketMetrics
        )

        assert refused.reason.startswith("factors.momentum: ")

    def test_nested_unknown_fields_are_counted_with_their_path(self) -> None:
        """Unknown fields inside snapshot positions are listed with their index."""
        positions = [
            {"ticker": "AAPL", "quantity": 1, "venue": "XNAS"},
            {"ticker": "MSFT", "quantity": 2},
        ]

        decoded = decode(
            PortfolioSnapshot,
            raw(message("PortfolioSnapshot", positions=positions, desk="eq")),
            max_bytes=MAX,
        )

        assert unknown_fields(decoded) == ["desk", "positions[0].venue"]

    def test_snapshot_position_quantity_is_named_by_index(self) -> None:
        """A bad position is named by its index in the reason."""
        positions = [{"ticker": "AAPL", "quantity": "1"}]

        refused = refusal(raw(message("PortfolioSnapshot", positions=positions)), PortfolioSnapshot)

        assert refused.reason.startswith("positions[0].quantity: ")

    def test_snapshot_with_repeated_ticker_is_refused(self) -> None:
        """A snapshot listing one ticker twice is SCHEMA_INVALID."""
        positions = [{"ticker": "AAPL", "quantity": 1}, {"ticker": "AAPL", "quantity": 2}]

        refused = refusal(raw(message("PortfolioSnapshot", positions=positions)), PortfolioSnapshot)

        assert "AAPL" in refused.reason

    def test_negative_snapshot_version_is_refused(self) -> None:
        """Versions are integers >= 0, never floats."""
        for version in (-1, 3.0):
            assert (
                refusal(raw(message("PortfolioSnapshot", version=version)), PortfolioSnapshot).code
                == ErrorCode.SCHEMA_INVALID
            )

    def test_black_swan_rearm_must_be_boolean(self) -> None:
        """``rearm`` is a JSON boolean; 1 is not true."""
        assert (
            refusal(raw(message("BlackSwanState", rearm=1)), BlackSwanState).code
            == ErrorCode.SCHEMA_INVALID
        )

    @pytest.mark.parametrize(
        ("scope", "scope_id"),
        [("GLOBAL", "pf-1"), ("PORTFOLIO", None), ("STRATEGY", DROP), ("PROFILE", "NORMAL")],
    )
    def test_config_scope_id_rules(self, scope: str, scope_id: Any) -> None:
        """scope_id is required unless GLOBAL, absent for GLOBAL, and the scope is a closed set."""
        body = message("RiskConfigEvent", scope=scope, scope_id=scope_id)

        assert refusal(raw(body), RiskConfigEvent).code == ErrorCode.SCHEMA_INVALID

    def test_config_key_follows_scope(self) -> None:
        """A config record knows the key it belongs under."""
        strategy = decode(RiskConfigEvent, raw(EXAMPLES["RiskConfigEvent"]), max_bytes=MAX)
        world = decode(
            RiskConfigEvent,
            raw(message("RiskConfigEvent", scope="GLOBAL", scope_id=DROP)),
            max_bytes=MAX,
        )

        assert strategy.record_key() == "strategy:momentum-v3"
        assert world.record_key() == "global"

    def test_config_limit_nan_is_non_finite(self) -> None:
        """A NaN limit override is NON_FINITE."""
        body = message("RiskConfigEvent", limits={"max_gross_exposure": float("nan")})

        refused = refusal(raw(body), RiskConfigEvent)

        assert refused.code == ErrorCode.NON_FINITE
        assert refused.reason.startswith("limits.max_gross_exposure: ")
