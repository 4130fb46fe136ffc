"""What ``riskgate dlq redrive`` says will happen to each dead letter, and how bytes are shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.support import builders as b

from riskgate.dlq.plan import Expect, examine, predict, summary
from riskgate.dlq.render import printable
from riskgate.store.dlq import StoredDeadLetter

pytestmark = pytest.mark.unit

NOW = b.T0
LIMIT = 65_536


def letter(value: bytes | None, key: bytes | None = b"P1", offset: int = 0,
           redriven: int = 0) -> StoredDeadLetter:
    return StoredDeadLetter(0, offset, "OVERSIZE", "too big", datetime.fromtimestamp(NOW, UTC),
                            key, None if value is None else len(value), None, redriven, None,
                            value=value)


def decision(decision_id: str, age_s: float = 0.0) -> bytes:
    return b.dumps(b.proposal(decision_id, "P1", "AAPL", created_at=NOW - age_s))


def expect(*letters: StoredDeadLetter, processed: frozenset[str] = frozenset(),
           max_age_s: float | None = 60.0, limit: int = LIMIT) -> list[Expect]:
    items = [examine(x, limit) for x in letters]
    return [p.expect for p in predict(items, set(processed), NOW, max_age_s)]


class TestPredict:
    def test_a_valid_fresh_decision_is_decided(self):
        """A record that decodes, keyed by its portfolio and young enough, is decided anew."""
        assert expect(letter(decision("D1"))) == [Expect.DECIDED]

    def test_an_old_decision_comes_back_expired_unless_the_age_is_unlimited(self):
        """Older than the max decision age: EXPIRED; with no max age it is decided."""
        old = letter(decision("D1", age_s=61.0))
        assert expect(old) == [Expect.EXPIRED]
        assert expect(old, max_age_s=None) == [Expect.DECIDED]

    def test_a_processed_decision_id_is_a_duplicate_before_it_could_expire(self):
        """The worker checks processed decision ids first: an old processed one is a DUPLICATE."""
        assert expect(letter(decision("D1", age_s=3600.0)),
                      processed=frozenset({"D1"})) == [Expect.DUPLICATE]

    def test_the_second_of_one_decision_in_the_same_redrive_is_a_duplicate(self):
        """Two dead letters of one decision_id: the first decided, the second DUPLICATE."""
        assert expect(letter(decision("D1")), letter(decision("D1"), offset=1)) == [
            Expect.DECIDED, Expect.DUPLICATE]

    @pytest.mark.parametrize(("value", "key", "limit", "code"), [
        (b"{not json", b"P1", LIMIT, "NOT_JSON"),
        (None, b"P1", LIMIT, "EMPTY"),
        (decision("D1"), b"P2", LIMIT, "KEY_MISMATCH"),
        (decision("D1"), None, LIMIT, "KEY_MISMATCH"),
        (decision("D1"), b"P1", 64, "OVERSIZE"),
    ])
    def test_a_record_the_worker_refuses_will_dead_letter_again_with_its_code(
            self, value, key, limit, code):
        """Undecodable, empty, mis-keyed or over the workers' limit: DEAD_LETTER with the code."""
        item = examine(letter(value, key), limit)
        [p] = predict([item], set(), NOW, 60.0)
        assert p.expect is Expect.DEAD_LETTER and p.detail.startswith(f"{code}:")

    def test_the_summary_counts_each_outcome_and_the_codes_still_invalid(self):
        """One line per outcome with its count, the codes of the invalid ones, and the repeats."""
        items = [examine(x, LIMIT) for x in (
            letter(decision("D1")), letter(decision("D2", 600.0), offset=1, redriven=1),
            letter(b"[1]", offset=2), letter(b"", offset=3))]
        lines = summary(predict(items, set(), NOW, 60.0), 60.0)
        assert lines[0].split()[:2] == ["DECIDED", "1"]
        assert lines[2].split()[:2] == ["EXPIRED", "1"]
        assert lines[3].endswith("(EMPTY 1, NOT_OBJECT 1)")
        assert lines[4] == "  1 of them redriven before"


class TestPrintable:
    def test_control_characters_and_invalid_utf8_are_escaped(self):
        """Nothing in a record can reach the terminal raw: controls and bad bytes are escaped."""
        assert printable(b'{"a":"\x1b[2J\x00"}\xff') == '{"a":"\\x1b[2J\\x00"}\\xff'

    def test_a_long_value_is_cut_and_says_how_much_is_left(self):
        """Only the first bytes are shown, with the number of bytes left."""
        assert printable(b"x" * 10, limit=4) == "xxxx ... (6 more bytes)"
        assert printable(None) == "(none)"
