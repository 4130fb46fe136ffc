"""Bad input goes to the DLQ with its reason while valid decisions keep flowing."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics

pytestmark = pytest.mark.integration


def bad_records(unique: str, p: str, now: float) -> dict[str, bytes | None]:
    """One record per kind of bad input, with the error code each must get."""
    good = b.proposal(f"X{unique}", p, "AAPL", created_at=now)
    def variant(**changes):
        body = dict(good)
        for k, v in changes.items():
            if v is ...:
                body.pop(k)
            else:
                body[k] = v
        return orjson.dumps(body)
    return {
        "NOT_JSON": b"{not json",
        "NOT_UTF8": b'{"schema_version": "1.0", "ticker": "\xff\xfe"}',
        "EMPTY": b"",
        "SCHEMA_INVALID:string-number": variant(target_quantity="10"),
        "SCHEMA_INVALID:missing": variant(ticker=...),
        "NON_FINITE:nan": orjson.dumps(good).replace(b'"target_quantity":10.0', b'"target_quantity":NaN'),
        "NON_FINITE:inf": orjson.dumps(good).replace(b'"target_quantity":10.0', b'"target_quantity":Infinity'),
        "SCHEMA_INVALID:negative-price": variant(reference_price=-1.0),
        "SCHEMA_INVALID:enum": variant(kind="MAYBE"),
        "UNSUPPORTED_VERSION": variant(schema_version="2.0"),
        "OVERSIZE": variant(metadata={"blob": "x" * 70_000}),
        "NOT_OBJECT": b"[1, 2, 3]",
        "SCHEMA_INVALID:nul": variant(strategy_id="momo\x00x"),
    }


class TestDeadLetters:
    async def test_every_kind_of_bad_input_lands_in_the_dlq_and_valid_ones_flow(self, test_settings, unique):
        """Thirteen kinds of bad record each land in the DLQ with their code; every valid one is decided."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        bad = bad_records(unique, p, now)
        records, valid_ids = [], []
        for i, value in enumerate(bad.values()):
            good = b.proposal(f"D{unique}-{i}", p, "AAPL", qty=float(i + 1), created_at=now)
            valid_ids.append(good["decision_id"])
            records += [(p.encode(), b.dumps(good)), (p.encode(), value)]
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s):
                await produce(s, s.topics.proposed, records)
                dead = await collect(s, s.topics.dlq, len(bad))
                actions = await collect(s, s.topics.actions, len(valid_ids))
        assert sorted(a["decision_id"] for _, a in actions) == sorted(valid_ids)
        assert len(dead) == len(bad)
        by_value = {base64.b64decode(d["value_b64"]) if d["value_b64"] else b"": d for _, d in dead}
        for label, value in bad.items():
            envelope = by_value[value or b""]
            assert envelope["error_code"] == label.split(":")[0], (label, envelope["error"])
            assert envelope["error"]
            assert envelope["source_topic"] == s.topics.proposed
            assert envelope["partition"] >= 0 and envelope["offset"] >= 0
            assert base64.b64decode(envelope["key_b64"]) == p.encode()
