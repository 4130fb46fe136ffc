"""Migrations against the real PostgreSQL."""

from __future__ import annotations

import pytest

from riskgate.store.connect import connect as db_connect
from riskgate.store.migrate import migrate, migration_files

pytestmark = pytest.mark.integration

TABLES = {"portfolio_state", "target_positions", "risk_actions", "partition_progress",
          "risk_profiles", "risk_configs", "processed_decisions", "dead_letters", "emergency_events"}


class TestMigrations:
    async def test_apply_to_empty_schema_then_again_as_no_op(self, infra, unique):
        """Every migration applies to an empty schema once, and a second run applies nothing."""
        schema = f"mig_{unique}"
        admin = await db_connect(infra)
        await admin.execute(f"CREATE SCHEMA {schema}")
        conn = await db_connect(infra, server_settings={"search_path": schema})
        try:
            first = await migrate(conn)
            second = await migrate(conn)
            tables = {r["tablename"] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)}
            indexes = {r["indexname"] for r in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = $1", schema)}
        finally:
            await conn.close()
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.close()
        assert first == [name for name, _ in migration_files()]
        assert second == []
        assert tables >= TABLES
        assert {"risk_actions_decision_idx", "risk_actions_strategy_time_type_idx",
                "risk_actions_type_time_idx", "target_positions_decision_idx"} <= indexes


def old_envelope(value: bytes, key: bytes = b"pf-1") -> bytes:
    """A dead-letter envelope as written before migration 004 (the whole key and value inside)."""
    import base64
    import json

    return json.dumps({
        "schema_version": "1.0", "error_code": "OVERSIZE", "error": "too big",
        "source_topic": "decisions.proposed", "partition": 0, "offset": len(value),
        "key_b64": base64.b64encode(key).decode(), "value_b64": base64.b64encode(value).decode(),
        "received_at": "2026-11-30T10:00:00Z",
    }).encode()


class TestDeadLetterMigration:
    async def test_stored_envelopes_gain_full_bytes_and_oversize_ones_are_cut(
            self, infra, unique, monkeypatch):
        """Migrations 004 and 007 keep every old value in full beside the envelope, cut an envelope
        over 96 KiB, and a key over 1024 bytes, so that it fits any accepted DLQ topic and still
        validates."""
        import base64
        import hashlib
        import json
        from pathlib import Path

        from jsonschema import Draft202012Validator

        from riskgate.store import migrate as migrate_module

        schema = f"mig_{unique}"
        small, huge = b'{"not": "decision"', bytes(range(256)) * 5000  # 1.28 MB
        admin = await db_connect(infra)
        await admin.execute(f"CREATE SCHEMA {schema}")
        conn = await db_connect(infra, server_settings={"search_path": schema})
        try:
            before = [m for m in migration_files() if m[0] < "004"]
            monkeypatch.setattr(migrate_module, "migration_files", lambda: before)
            await migrate(conn)
            for value in (small, huge):
                await conn.execute(
                    "INSERT INTO dead_letters (source_topic, source_partition, source_offset, "
                    "error_code, error, received_at, key, payload) "
                    "VALUES ('decisions.proposed', 0, $1, 'OVERSIZE', 'too big', now(), 'pf-1', $2)",
                    len(value), old_envelope(value))
            long_key, tiny = b"k" * 5000, b"{}"
            await conn.execute(
                "INSERT INTO dead_letters (source_topic, source_partition, source_offset, "
                "error_code, error, received_at, key, payload) "
                "VALUES ('decisions.proposed', 0, $1, 'OVERSIZE', 'too big', now(), $2, $3)",
                len(tiny), long_key, old_envelope(tiny, long_key))
            monkeypatch.undo()
            applied = await migrate(conn)
            rows = {r["source_offset"]: r for r in await conn.fetch("SELECT * FROM dead_letters")}
        finally:
            await conn.close()
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.close()
        dlq = json.loads((Path(__file__).resolve().parents[2] / "schemas" /
                          "decisions.proposed.dlq.schema.json").read_text())
        validator = Draft202012Validator(dlq)
        assert "004_dead_letter_value.sql" in applied
        for value, truncated in ((small, False), (huge, True)):
            row = rows[len(value)]
            envelope = json.loads(row["payload"])
            validator.validate(envelope)
            assert row["value"] == value
            assert row["value_sha256"] == hashlib.sha256(value).hexdigest() == envelope["value_sha256"]
            assert envelope["value_truncated"] is truncated
            assert envelope["value_length"] == len(value)
            kept = base64.b64decode(envelope["value_b64"])
            assert kept == (value[:65536] if truncated else value)
        assert len(rows[len(huge)]["payload"]) < 128 * 1024
        cut_key = json.loads(rows[len(b"{}")]["payload"])
        validator.validate(cut_key)
        assert base64.b64decode(cut_key["key_b64"]) == b"k" * 1024 and cut_key["key_truncated"] is True
