"""Hypothesis-generated bad input through a running worker: no crash, all dead-lettered, the
valid ones decided exactly once."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics

pytestmark = pytest.mark.integration

FIELDS = ["decision_id", "strategy_id", "portfolio_id", "ticker", "target_quantity", "confidence",
          "created_at", "schema_version"]
WRONG = st.one_of(st.text(max_size=5).map(lambda t: "7" + t), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.booleans())


def _mutations(base: dict) -> st.SearchStrategy[bytes]:
    """Payloads that are certainly invalid, each built from a valid proposal."""
    def with_(field, value):
        body = dict(base)
        body[field] = value
        return orjson.dumps(body)

    def without(field):
        body = dict(base)
        body.pop(field)
        return orjson.dumps(body)

    numeric = st.sampled_from(["target_quantity", "confidence", "reference_price", "stop_loss"])
    return st.one_of(
        st.builds(with_, st.sampled_from(["target_quantity", "confidence", "reference_price"]), WRONG),
        st.builds(without, st.sampled_from(FIELDS)),
        st.builds(lambda f, tok: orjson.dumps(dict(base, **{f: 1.5})).replace(b"1.5", tok),
                  numeric, st.sampled_from([b"NaN", b"Infinity", b"-Infinity"])),
        st.builds(with_, st.sampled_from(["reference_price", "stop_loss"]),
                  st.floats(max_value=0.0, allow_nan=False)),
        st.builds(with_, st.just("confidence"), st.floats(min_value=1.0001, max_value=1e9)),
        st.builds(with_, st.just("kind"), st.text(min_size=1, max_size=8).filter(lambda k: k not in ("PROPOSAL", "FORCED_DERISK"))),
        st.builds(with_, st.just("schema_version"), st.integers(2, 99).map(lambda m: f"{m}.0")),
        st.builds(lambda n: orjson.dumps(base)[:n], st.integers(0, 60)),
        st.binary(min_size=1, max_size=64).map(lambda raw: b"\xff" + raw),
        st.builds(with_, st.just("metadata"), st.just({"pad": "x" * 70_000})),
    )


class TestFuzz:
    @pytest.mark.timeout(600)
    @settings(max_examples=1, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_a_thousand_malformed_payloads_never_crash_or_pass(self, test_settings, unique, data):
        """1,000 generated bad payloads each land in the DLQ with a reason; the valid ones flow once."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        base = b.proposal(f"F{unique}", p, "AAPL", created_at=now)
        bad = data.draw(st.lists(_mutations(base), min_size=1000, max_size=1000))
        records, valid = [], []
        for i, value in enumerate(bad):
            if i % 10 == 0:
                d = b.proposal(f"V{unique}-{i}", p, "AAPL", qty=1.0, created_at=now)
                valid.append(d["decision_id"])
                records.append((p.encode(), b.dumps(d)))
            records.append((p.encode(), value))
        asyncio.run(self._run(s, p, now, records, valid, len(bad)))

    @staticmethod
    async def _run(s, p, now, records, valid, n_bad) -> None:
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s) as service:
                await produce(s, s.topics.proposed, records)
                dead = await collect(s, s.topics.dlq, n_bad, deadline_s=180)
                actions = await collect(s, s.topics.actions, len(valid), deadline_s=60)
                alive = service.ready()
        assert alive
        assert len(dead) == n_bad
        assert all(d["error_code"] and d["error"] for _, d in dead)
        assert sorted(a["decision_id"] for _, a in actions) == sorted(valid)
