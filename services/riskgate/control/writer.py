"""The one path to risk.config: validate, version, record, publish, wait (docs/control-plane.md).

Build one per process, start it, and share it (it is safe for concurrent calls)::

    from riskgate.control.writer import ConfigWriter

    async with ConfigWriter(settings) as writer:        # or: await writer.start() ... close()
        result = await writer.submit(
            ConfigChange(scope="global", profile="DEFENSIVE", reason="volatility spike"),
            Actor(name="alice", role="operator", authenticated=True, via="api"), wait_s=30)

``ConfigWriter(settings, *, pool=None, clock=time.time)``: ``settings`` names the topics, the
database, the broker, ``four_eyes`` and ``proposal_expiry_s``. Pass ``pool`` to share an asyncpg
pool (any codecs: the writer passes JSON as text), else ``start`` opens a small one and
``close`` closes it. ``start`` applies the migrations, starts an idempotent producer
(acks=all) and raises ``ConfigTopicInvalid`` when risk.config is missing or has more than one
partition.

Errors: ``ConfigRefused`` (nothing published; its subclasses ``NotPermitted`` and
``UnknownChange``), ``VersionConflict``; an unreachable database or broker raises the driver's
error (asyncpg / aiokafka), and nothing is published or recorded.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from riskgate import metrics
from riskgate.control import scopes
from riskgate.control.model import (
    ROLE_RANK,
    Actor,
    ConfigChange,
    ConfigRefused,
    NotPermitted,
    UnknownChange,
    VersionConflict,
    WriteResult,
)
from riskgate.control.rebuild import Rebuilt, check_config_topic, rebuild_config
from riskgate.kafka.admin import REQUEST_TIMEOUT_MS
from riskgate.kafka.clients import kafka_producer
from riskgate.settings import Settings
from riskgate.store import config_writes as store
from riskgate.store import worker_status
from riskgate.store.connect import CONNECT_TIMEOUT_S, create_pool
from riskgate.store.migrate import migrate
from riskgate.worker import codec


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated change: the scope before and after, and the record that makes it so."""

    before: scopes.ScopeState
    after: scopes.ScopeState
    version: int
    key: str
    payload: bytes

    def result(self, change_id: str, status: str) -> WriteResult:
        previous = self.before.as_dict()
        new = {**self.after.as_dict(), "version": self.version if status == "published" else None}
        return WriteResult(change_id=change_id, status=status,
                           version=self.version if status == "published" else None,
                           previous=previous, new=new, diff=scopes.diff(previous, new))


def check_permission(change: ConfigChange, actor: Actor, approving: bool = False) -> None:
    """A known role must be high enough: operator for profiles and trading states, admin for
    limits, re-arms and approvals. An unknown role (the CLI) is not checked here."""
    need = "admin" if approving or change.needs_second_admin else "operator"
    if actor.role is not None and ROLE_RANK[actor.role] < ROLE_RANK[need]:
        what = "approving" if approving else "this change"
        raise NotPermitted(f"{actor.name} is {actor.role}; {what} needs {need}")


class ConfigWriter:
    """The real ``riskgate.control.model.ConfigWriter``."""

    def __init__(self, settings: Settings, *, pool: asyncpg.Pool | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.s = settings
        self._clock = clock
        self._pool = pool
        self._own_pool = pool is None
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> ConfigWriter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        await check_config_topic(self.s)
        if self._pool is None:
            self._pool = await create_pool(self.s, min_size=1, max_size=4,
                                              timeout=CONNECT_TIMEOUT_S, command_timeout=30)
        async with self._pool.acquire() as conn:
            await migrate(conn)
        producer = kafka_producer(self.s, acks="all",
                                    enable_idempotence=True, request_timeout_ms=REQUEST_TIMEOUT_MS)
        await producer.start()
        self._producer = producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._own_pool and self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "ConfigWriter.start() first"
        return self._pool

    # ----- the port ---------------------------------------------------------------------

    async def submit(self, change: ConfigChange, actor: Actor, *, wait_s: float | None = None
                     ) -> WriteResult:
        """Publish the change (or, under four-eyes, store it as a proposal); with ``wait_s``,
        then wait up to that long for every live worker to apply it."""
        check_permission(change, actor)
        scopes.check_change(change)
        if self.s.four_eyes and change.needs_second_admin:
            return await self._propose(change, actor)
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_topic(conn, self.s.topics.config)
            result = await self._publish(conn, change, actor, _change_id())
        return await self._waited(result, wait_s)

    async def approve(self, change_id: str, actor: Actor, *, wait_s: float | None = None
                      ) -> WriteResult:
        """Publish a pending proposal as a second admin; refused when unknown, already
        decided, expired, or approved by its proposer."""
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_topic(conn, self.s.topics.config)
            found = await store.proposal_for_update(conn, change_id)
            change, author = self._approvable(found, change_id, actor)
            result = await self._publish(conn, change, author, change_id, approved_by=actor)
            await store.decide_proposal(conn, change_id, "approved", actor.name, result.version)
        return await self._waited(result, wait_s)

    async def preview(self, change: ConfigChange, actor: Actor) -> WriteResult:
        """What ``submit`` would publish now, validated the same way; nothing is written (a
        WriteResult with status "proposed", change_id "dry-run" and version None)."""
        check_permission(change, actor)
        scopes.check_change(change)
        async with self.pool.acquire() as conn:
            plan = self._plan(await rebuild_config(conn, self.s), change, actor)
        return plan.result("dry-run", "proposed")

    async def current(self) -> Rebuilt:
        """The config in force (history and topic), for ``config show``."""
        async with self.pool.acquire() as conn:
            return await rebuild_config(conn, self.s)

    # ----- the steps --------------------------------------------------------------------

    def _plan(self, rebuilt: Rebuilt, change: ConfigChange, author: Actor,
              approved_by: Actor | None = None) -> Plan:
        book, key = rebuilt.book, scopes.book_key(change)
        before = scopes.scope_state(book, key)
        if change.if_version is not None and before.version != change.if_version:
            raise VersionConflict(f"{before.key} is at version {before.version}, not "
                                  f"{change.if_version}; nothing was published")
        after = scopes.changed(before, change)
        version = max(rebuilt.highest, 0) + 1  # the first version is 1
        signer = author if approved_by is None else author.model_copy(
            update={"authenticated": author.authenticated and approved_by.authenticated})
        message, payload = scopes.record_for(after, change, signer, version, self._clock(),
                                             approved_by.name if approved_by else None)
        if len(payload) > self.s.max_message_bytes:
            raise ConfigRefused(f"the record would be {len(payload)} bytes, above "
                                f"RISKGATE_MAX_MESSAGE_BYTES={self.s.max_message_bytes}")
        trial = book.clone()
        try:
            trial.apply(*codec.config_change(message))
        except ValueError as exc:  # LimitsError included
            raise ConfigRefused(f"{exc}; nothing was published") from None
        problem = scopes.combined_problem(trial, key)
        if problem is not None:
            raise ConfigRefused(f"{problem}; nothing was published")
        return Plan(before, after, version, message.record_key(), payload)

    async def _publish(self, conn: asyncpg.Connection, change: ConfigChange, author: Actor,
                       change_id: str, approved_by: Actor | None = None) -> WriteResult:
        """Inside the caller's transaction, under the lock: plan, record, publish. The lock is
        held until Kafka acknowledged the record, so versions never race; a failed publish
        raises and rolls the history row back."""
        topic = self.s.topics.config
        plan = self._plan(await rebuild_config(conn, self.s), change, author, approved_by)
        result = plan.result(change_id, "published")
        await store.insert_write(conn, store.WriteRow(
            topic, plan.version, change_id, plan.key, author.name, author.role,
            author.authenticated and (approved_by is None or approved_by.authenticated),
            author.via, change.reason, approved_by.name if approved_by else None,
            result.previous, result.new, plan.payload))
        assert self._producer is not None, "ConfigWriter.start() first"
        await self._producer.send_and_wait(topic, plan.payload, key=plan.key.encode(), partition=0)
        metrics.CONFIG_CHANGES.labels(author.name, author.via).inc()
        return result

    async def _propose(self, change: ConfigChange, actor: Actor) -> WriteResult:
        async with self.pool.acquire() as conn:
            plan = self._plan(await rebuild_config(conn, self.s), change, actor)
            change_id = _change_id()
            result = plan.result(change_id, "proposed")
            expires = await store.insert_proposal(
                conn, change_id, self.s.topics.config, change.model_dump(mode="json"),
                actor.name, actor.role, actor.authenticated, actor.via, result.previous,
                result.new, self.s.proposal_expiry_s)
        return result.model_copy(update={"expires_at": expires})

    def _approvable(self, found: dict | None, change_id: str, actor: Actor
                    ) -> tuple[ConfigChange, Actor]:
        if found is None or found["source_topic"] != self.s.topics.config:
            raise UnknownChange(f"no proposal {change_id!r}")
        if found["status"] != "pending":
            raise ConfigRefused(f"{change_id} was already {found['status']} by "
                                f"{found['decided_by']} (version {found['version']})")
        if found["expired"]:
            raise ConfigRefused(f"{change_id} expired at {found['expires_at'].isoformat()}; "
                                "propose it again")
        change = ConfigChange.model_validate(found["change"])
        check_permission(change, actor, approving=True)
        if actor.name == found["actor"]:
            raise NotPermitted(f"four-eyes: {actor.name} proposed {change_id}; a second admin "
                               "must approve it")
        author = Actor(name=found["actor"], role=found["role"],
                       authenticated=found["authenticated"], via=found["via"])
        return change, author

    async def _waited(self, result: WriteResult, wait_s: float | None) -> WriteResult:
        if wait_s is None or result.status != "published" or result.version is None:
            return result
        applied, lagging = await self.wait_applied(result.version, wait_s)
        return result.model_copy(update={"waited": True, "applied_by": applied,
                                         "not_applied_by": lagging})

    async def wait_applied(self, version: int, wait_s: float) -> tuple[list[str], list[str]]:
        """(live workers that applied ``version``, those that had not when ``wait_s`` ran out)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + wait_s
        while True:
            async with self.pool.acquire() as conn:
                rows = await worker_status.live(conn, self.s.topics.config)
            lagging = [r.worker_id for r in rows if r.config_version < version]
            if not lagging or loop.time() >= until:
                return [r.worker_id for r in rows if r.config_version >= version], lagging
            await asyncio.sleep(0.2)


def _change_id() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"
