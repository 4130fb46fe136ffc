"""Migrations against the real PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest

from riskgate.store.migrate import migrate, migration_files

pytestmark = pytest.mark.integration

TABLES = {"portfolio_state", "target_positions", "risk_actions", "partition_progress",
          "risk_profiles", "risk_configs", "processed_decisions", "dead_letters", "emergency_events"}


class TestMigrations:
    async def test_apply_to_empty_schema_then_again_as_no_op(self, infra, unique):
        """Every migration applies to an empty schema once, and a second run applies nothing."""
        schema = f"mig_{unique}"
        admin = await asyncpg.connect(infra.database_url)
        await admin.execute(f"CREATE SCHEMA {schema}")
        conn = await asyncpg.connect(infra.database_url, server_settings={"search_path": schema})
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
