"""risk.config's additive fields: reason, full_state, rearm_event_id, authenticated, approved_by."""

from __future__ import annotations

import orjson
import pytest

from riskgate.contracts.decode import decode
from riskgate.contracts.examples import EXAMPLES
from riskgate.contracts.inputs import RiskConfigEvent
from riskgate.errors import PoisonMessage

pytestmark = pytest.mark.unit

MAX = 65536
REARM = {"schema_version": "1.0", "version": 9, "scope": "GLOBAL", "rearm_event_id": "bs-7",
         "updated_at": "2026-11-22T09:00:00Z", "updated_by": "ops@desk", "reason": "all clear"}


def read(body: dict) -> RiskConfigEvent:
    return decode(RiskConfigEvent, orjson.dumps(body), max_bytes=MAX)


class TestConfigRecordFields:
    def test_a_record_of_an_older_writer_means_what_it_did(self):
        """Without the new fields a record merges, names no re-arm and is unauthenticated."""
        body = {k: v for k, v in EXAMPLES["RiskConfigEvent"].items()
                if k not in ("reason", "full_state", "rearm_event_id", "authenticated",
                             "approved_by")}
        message = read(body)
        assert (message.full_state, message.rearm_event_id, message.authenticated) == (
            False, None, False)

    def test_a_rearm_has_its_own_key(self):
        """A re-arm is keyed rearm:<event_id>, never global, so it never shares the kill
        switch's key under compaction."""
        assert read(REARM).record_key() == "rearm:bs-7"

    @pytest.mark.parametrize("extra", [{"trading_state": "ACTIVE"}, {"profile": "NORMAL"},
                                       {"limits": {}}, {"full_state": True},
                                       {"scope": "STRATEGY", "scope_id": "s1"}])
    def test_a_rearm_carrying_anything_else_is_refused(self, extra):
        """A re-arm is a GLOBAL record with nothing else in it."""
        with pytest.raises(PoisonMessage, match="rearm_event_id"):
            read({**REARM, **extra})

    def test_the_example_carries_the_new_fields(self):
        """The published example shows a full-state record with who and why."""
        message = read(EXAMPLES["RiskConfigEvent"])
        assert message.full_state and message.reason and message.authenticated
