"""Output models and ``encode``: strict, complete, and round-trippable."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from riskgate.contracts import (
    ACTIONS_VERSION,
    SCHEMA_MAJOR,
    SCHEMA_VERSION,
    TOPIC_VERSIONS,
    ActionType,
    DeadLetter,
    ErrorCode,
    ProfileName,
    ReasonCode,
    RiskAction,
    TargetPosition,
    decode,
    derisk_decision_id,
    encode,
)
from riskgate.contracts.outputs import DLQ_KEY_MAX_BYTES, MAX_ERROR_CHARS
from riskgate.errors import PoisonMessage

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 22, 14, 30, 0, 400_000, tzinfo=UTC)
ACTION_ID = uuid.uuid5(uuid.UUID("6f3c2a1e-5b1d-4c7e-9a51-7269736b6761"), "dec-1")


def target(**changes: object) -> TargetPosition:
    fields: dict[str, object] = {
        "action_id": ACTION_ID,
        "decision_id": "dec-1",
        "portfolio_id": "pf-1",
        "strategy_id": "momentum-v3",
        "ticker": "AAPL",
        "target_position": 120.0,
        "delta_position": 20.0,
        "target_notional": 22_488.0,
        "target_weight": 0.0225,
        "priority": 2,
        "action_type": ActionType.CAPPED,
        "risk_reasoning_summary": "CAPPED by PER_NAME_WEIGHT",
        "timestamp": NOW,
        "decision_created_at": NOW - timedelta(milliseconds=150),
    }
    fields.update(changes)
    return TargetPosition(**fields)


def details(**changes: object) -> dict[str, object]:
    market = {"price": 187.4, "adv": 5e7, "spread_bps": 1.2, "atr": 3.1, "volatility": 0.02,
              "tick_size": 0.01, "lot_size": 1.0, "multiplier": 1.0, "fx_to_base": 1.0,
              "currency": "USD", "sector": "TECH", "country": "US", "cluster": "C1",
              "factors": {}, "regime": None, "as_of": NOW}
    fields: dict[str, object] = {
        "verdicts": (), "market": market, "limits_digest": "0123456789abcdef",
        "current_position": 0.0, "note": None, "build": {"version": "0.1.0", "core": "abc"},
    }
    fields.update(changes)
    return fields


def action(**changes: object) -> RiskAction:
    fields: dict[str, object] = {
        "action_id": ACTION_ID,
        "decision_id": "dec-1",
        "portfolio_id": "pf-1",
        "strategy_id": "momentum-v3",
        "ticker": "AAPL",
        "timestamp": NOW,
        "action_type": ActionType.OK,
        "reason_codes": (),
        "risk_reasoning_summary": "OK",
        "proposed_position": 10.0,
        "approved_position": 10.0,
        "max_passing_position": None,
        "details": details(),
        "config_version": 3,
        "snapshot_version": -1,
        "market_version": 8,
        "emergency_version": -1,
        "profile": ProfileName.NORMAL,
        "source_partition": 0,
        "source_offset": 41,
    }
    fields.update(changes)
    return RiskAction(**fields)


class TestOutputs:
    def test_target_round_trips_through_encode(self) -> None:
        """An encoded target decodes back to an equal target."""
        original = target()

        assert decode(TargetPosition, encode(original), max_bytes=65_536) == original

    def test_encoded_output_carries_version_and_identity(self) -> None:
        """Every output is written with its topic's schema_version and the decision's identity."""
        body = json.loads(encode(action()))

        assert body["schema_version"] == ACTIONS_VERSION.text == "2.0"
        assert body["action_id"] == str(ACTION_ID)
        assert {"decision_id", "portfolio_id", "strategy_id", "ticker"} <= body.keys()
        assert body["max_passing_position"] is None

    def test_encoded_timestamps_keep_their_offset(self) -> None:
        """A timestamp is written as RFC 3339 with an offset."""
        stamp = json.loads(encode(target(timestamp=NOW.astimezone(timezone(timedelta(hours=1))))))[
            "timestamp"
        ]

        assert datetime.fromisoformat(stamp) == NOW

    def test_outputs_refuse_unknown_fields(self) -> None:
        """Outputs forbid fields the contract does not define."""
        with pytest.raises(ValidationError):
            target(venue="XNAS")

    def test_outputs_refuse_non_finite_numbers(self) -> None:
        """An output never carries NaN, not even inside the action's details."""
        with pytest.raises(ValidationError):
            target(target_position=float("nan"))
        market = {**details()["market"], "price": float("inf")}  # type: ignore[dict-item]
        with pytest.raises(ValidationError, match="details.market.price"):
            action(details=details(market=market))

    def test_action_details_are_typed(self) -> None:
        """The details take binding verdicts with known reason codes, and nothing unknown."""
        verdict = {"verdict": ActionType.CAPPED,
                   "reason": ReasonCode.PER_NAME_WEIGHT_CAP, "limit": 0.05, "value": 0.06,
                   "headroom": -0.01, "bound": 120.0}

        assert action(details=details(verdicts=(verdict,))).details.verdicts[0].limit == 0.05
        with pytest.raises(ValidationError, match="reason"):
            action(details=details(verdicts=({**verdict, "reason": "NO_SUCH_CODE"},)))
        with pytest.raises(ValidationError, match="limits"):
            action(details=details(limits={"gross_cap": 1.0}))
        with pytest.raises(ValidationError, match="reason_codes"):
            action(reason_codes=("NO_SUCH_CODE",))

    def test_action_type_is_a_closed_set(self) -> None:
        """The action types are exactly the documented seven."""
        assert {a.value for a in ActionType} == {
            "OK",
            "CAPPED",
            "SCALED_DOWN",
            "REJECTED",
            "FORCED_DERISK",
            "EXPIRED",
            "DUPLICATE",
        }

    def test_outputs_refuse_naive_timestamps(self) -> None:
        """A processing time without a time zone is refused."""
        with pytest.raises(ValidationError):
            target(timestamp=datetime(2026, 11, 22, 14, 30))

    def test_priority_is_non_negative(self) -> None:
        """A negative priority band is refused."""
        with pytest.raises(ValidationError):
            target(priority=-1)

    def test_input_versions_allow_minus_one_only_below_zero(self) -> None:
        """-1 marks an absent input; anything lower is refused."""
        assert action(config_version=-1).config_version == -1
        with pytest.raises(ValidationError):
            action(config_version=-2)


def dead_letter(value: bytes, *, max_bytes: int | None = None, key: bytes | None = b"pf-1",
                reason: str = "not JSON") -> DeadLetter:
    return DeadLetter.for_record(
        code="NOT_JSON", reason=reason, source_topic="decisions.proposed", partition=1,
        offset=7, key=key, value=value, received_at=NOW, max_bytes=max_bytes,
    )


class TestDeadLetter:
    def test_for_record_encodes_raw_bytes(self) -> None:
        """The envelope carries the raw key and value as base64, and null for a missing key."""
        letter = DeadLetter.for_record(
            code="NOT_UTF8",
            reason="byte 0 is not valid UTF-8",
            source_topic="decisions.proposed",
            partition=3,
            offset=9,
            key=None,
            value=b"\xff\x00",
            received_at=NOW,
        )

        body = json.loads(encode(letter))

        assert body["error_code"] == "NOT_UTF8"
        assert body["key_b64"] is None
        assert base64.b64decode(body["value_b64"]) == b"\xff\x00"
        assert body["schema_version"] == SCHEMA_VERSION

    def test_small_value_is_kept_whole_with_its_length_and_digest(self) -> None:
        """An envelope under the budget carries the whole value, its length and its SHA-256."""
        value = b"{not json"
        letter = dead_letter(value, max_bytes=10_000)

        assert base64.b64decode(letter.value_b64) == value
        assert letter.value_truncated is False
        assert letter.value_length == len(value)
        assert letter.value_sha256 == hashlib.sha256(value).hexdigest()

    @pytest.mark.parametrize("size", [2_000, 65_537, 262_145, 1_048_000])
    @pytest.mark.parametrize("budget", [4_096, 100_000, 262_000])
    def test_large_value_is_cut_to_fit_the_budget(self, size: int, budget: int) -> None:
        """Whatever the value's size, the encoded envelope fits and carries a true prefix."""
        value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        letter = dead_letter(value, max_bytes=budget, reason="\u00e9" * 5000)

        encoded = encode(letter)
        prefix = base64.b64decode(letter.value_b64)
        assert len(encoded) <= budget
        assert value.startswith(prefix)
        assert letter.value_truncated is (len(prefix) < size)
        assert letter.value_length == size
        assert letter.value_sha256 == hashlib.sha256(value).hexdigest()

    def test_cut_keeps_as_much_as_fits(self) -> None:
        """A cut envelope is within one base64 quantum of the budget, not far below it."""
        letter = dead_letter(b"y" * 500_000, max_bytes=262_000)

        assert 262_000 - 8 <= len(encode(letter)) <= 262_000

    def test_long_key_is_cut_and_flagged(self) -> None:
        """A key over 1024 bytes keeps its first 1024 bytes and says so."""
        letter = dead_letter(b"{}", key=b"k" * 5000)

        assert base64.b64decode(letter.key_b64) == b"k" * DLQ_KEY_MAX_BYTES
        assert letter.key_truncated is True

    def test_budget_too_small_for_any_envelope_is_an_error(self) -> None:
        """A budget no envelope can meet is refused loudly instead of looping."""
        with pytest.raises(ValueError, match="cannot fit"):
            dead_letter(b"z" * 10_000, max_bytes=100)

    def test_long_reason_is_cut(self) -> None:
        """A reason longer than the limit is cut instead of refusing the envelope."""
        letter = DeadLetter.for_record(
            code="SCHEMA_INVALID",
            reason="x" * 5000,
            source_topic="decisions.proposed",
            partition=0,
            offset=0,
            key=b"pf-1",
            value=b"{}",
            received_at=NOW,
        )

        assert len(letter.error) == MAX_ERROR_CHARS

    def test_unknown_error_code_is_refused(self) -> None:
        """Only the documented error codes go on the DLQ."""
        with pytest.raises(ValueError):
            DeadLetter.for_record(
                code="OOPS",
                reason="",
                source_topic="decisions.proposed",
                partition=0,
                offset=0,
                key=None,
                value=None,
                received_at=NOW,
            )

    def test_error_codes_are_the_documented_set(self) -> None:
        """The DLQ codes are exactly those in docs/contracts.md."""
        assert {code.value for code in ErrorCode} == {
            "EMPTY",
            "OVERSIZE",
            "NOT_UTF8",
            "NOT_JSON",
            "NOT_OBJECT",
            "UNSUPPORTED_VERSION",
            "SCHEMA_INVALID",
            "NON_FINITE",
            "KEY_MISMATCH",
        }


class TestVersion:
    def test_version_string_comes_from_the_major(self) -> None:
        """The topics still at major 1 write "1.0"; risk.actions alone writes "2.0"."""
        assert SCHEMA_VERSION.split(".")[0] == str(SCHEMA_MAJOR) == "1"
        assert {v.text for k, v in TOPIC_VERSIONS.items() if k != "actions"} == {"1.0"}
        assert TOPIC_VERSIONS["actions"].text == "2.0"

    def test_an_action_of_another_major_is_refused(self) -> None:
        """A risk action that says 1.0 no longer reads as the 2.0 model."""
        body = json.loads(encode(action()))
        body["schema_version"] = "1.0"

        with pytest.raises(PoisonMessage, match=r"major 1 is not supported \(this reader reads 2\.x\)"):
            decode(RiskAction, json.dumps(body).encode(), max_bytes=65_536)

    def test_derisk_decision_id_format(self) -> None:
        """A de-risk decision_id is derived from the emergency event and the portfolio."""
        assert derisk_decision_id("bs-1", "pf-1") == "derisk:bs-1:pf-1"
