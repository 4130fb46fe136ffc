"""API keys, roles and per-key rate limits.

``RISKGATE_API_KEYS_FILE`` names a JSON file ``[{"name", "role", "sha256"}]``: only the hex
SHA-256 of each key is stored. The file is re-read when it changes (mtime, size or inode), so
a key is added, rotated or revoked without a restart. A file that is missing or invalid
after a change refuses every key (503) instead of keeping the old keys: a rotation that
revokes a leaked key must never leave it working because the new file has a typo.

A presented key is hashed and compared with every stored hash in constant time
(``hmac.compare_digest``), all of them, so the time taken says nothing about which matched.
Keys are never logged; a key's name is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from riskgate.control.model import ROLE_RANK, Role


class KeysFileError(ValueError):
    """The keys file is configured but cannot be used; every key is refused until it is fixed."""


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=128)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


_ENTRIES = TypeAdapter(list[_KeyEntry])


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One stored key: its name, its role and the digest of the key."""

    name: str
    role: Role
    digest: bytes = field(repr=False)

    def may(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def hash_key(key: str) -> str:
    """The hex SHA-256 to put in the keys file for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_keys(text: str) -> tuple[ApiKey, ...]:
    """The keys of a keys file's text; KeysFileError saying what is wrong."""
    try:
        entries = _ENTRIES.validate_python(json.loads(text))
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(map(str, first["loc"])) + ": " + first["msg"] if first else str(exc)
        raise KeysFileError(f"not a JSON list of {{name, role, sha256}}: {where}") from None
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise KeysFileError("each key name may appear only once")
    return tuple(ApiKey(e.name, e.role, bytes.fromhex(e.sha256)) for e in entries)


class KeyRing:
    """The keys of ``path`` (None: no keys configured), re-read whenever the file changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys: tuple[ApiKey, ...] = ()
        self._error: str | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.path is not None

    def _refresh(self) -> None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError as exc:
            self._stamp, self._keys = None, ()
            self._error = f"cannot read {self.path}: {exc.strerror}"
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        try:
            self._keys, self._error = parse_keys(self.path.read_text()), None
        except (OSError, KeysFileError) as exc:
            self._keys, self._error = (), f"{self.path}: {exc}"
        self._stamp = stamp

    def lookup(self, presented: str) -> ApiKey | None:
        """The stored key matching ``presented``, or None; KeysFileError if unusable."""
        digest = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            self._refresh()
            if self._error is not None:
                raise KeysFileError(self._error)
            keys = self._keys
        found = None
        for key in keys:  # no early exit: every comparison is made
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests, refilled evenly over a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> float | None:
        """None when ``name`` may go ahead, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return None
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate
