"""The output partition of a keyed record: aiokafka's default choice, without its cost.

aiokafka's ``DefaultPartitioner`` runs a pure-Python murmur2 over the key of every record it
sends (a few µs each, twice per decision). Output keys are portfolio ids, a small set that
repeats, so each key's hash is computed once and remembered; the partition is then the same
``all_partitions[hash % len(all_partitions)]`` the default picks, for any partition count.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner, murmur2

_DEFAULT = DefaultPartitioner()


class CachedPartitioner:
    """``DefaultPartitioner`` with each key's murmur2 hash kept (at most ``max_keys`` keys;
    beyond that the memory starts over, so a stream of ever new keys stays bounded)."""

    def __init__(self, max_keys: int = 65_536) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys

    def __call__(self, key: bytes | None, all_partitions: Sequence[int],
                 available: Sequence[int]) -> int:
        """The partition of ``key`` among ``all_partitions`` (sorted by id, as aiokafka
        passes them); a record without a key, or not in bytes, goes to the default."""
        if type(key) is not bytes:
            return _DEFAULT(key, all_partitions, available)
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]

    def __len__(self) -> int:
        """How many keys' hashes are remembered."""
        return len(self._hashes)
