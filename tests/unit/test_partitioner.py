"""The cached output partitioner picks exactly aiokafka's default partitions
(riskgate.worker.partitioner)."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner

from riskgate.worker.partitioner import CachedPartitioner

pytestmark = pytest.mark.unit


def keys() -> list[bytes]:
    """Portfolio-like ids, edge lengths (0..7 bytes, the hash's tail cases) and random bytes."""
    rng = random.Random(7)
    found = [f"P{i:04d}".encode() for i in range(500)]
    found += [bytes(rng.randrange(256) for _ in range(n)) for n in range(8) for _ in range(20)]
    found += [rng.randbytes(rng.randrange(8, 200)) for _ in range(300)]
    found += ["portefeuille-é-ü".encode(), b"\xff" * 9, b"\x00" * 13]
    return found


class TestCachedPartitioner:
    def test_same_partition_as_the_default_for_many_keys_and_counts(self) -> None:
        """Every key lands where DefaultPartitioner puts it, for 1 to 64 partitions, twice."""
        # Arrange
        default, cached = DefaultPartitioner(), CachedPartitioner()
        counts = [*range(1, 65), 100, 257]

        # Act
        mismatches = [(key, n) for _ in range(2) for n in counts for key in keys()
                      if cached(key, list(range(n)), list(range(n)))
                      != default(key, list(range(n)), list(range(n)))]

        # Assert
        assert mismatches == []

    def test_partition_ids_are_taken_from_all_partitions(self) -> None:
        """With partition ids that are not 0..n-1 the answer is the default's id, not an index."""
        # Arrange
        default, cached = DefaultPartitioner(), CachedPartitioner()
        ids = [3, 5, 8, 13, 21]

        # Act
        picked = [cached(key, ids, ids[:2]) for key in keys()]

        # Assert
        assert picked == [default(key, ids, ids[:2]) for key in keys()]

    def test_a_record_without_key_goes_to_an_available_partition(self) -> None:
        """A key of None is spread over the available partitions, as the default does."""
        # Arrange
        cached = CachedPartitioner()

        # Act
        picked = {cached(None, [0, 1, 2, 3], [1, 2]) for _ in range(200)}

        # Assert
        assert picked == {1, 2}
        assert len(cached) == 0

    def test_the_memory_of_hashes_is_bounded(self) -> None:
        """More distinct keys than ``max_keys`` never keep more than ``max_keys`` hashes,
        and the answers stay the default's."""
        # Arrange
        default, cached = DefaultPartitioner(), CachedPartitioner(max_keys=10)
        many = [f"K{i}".encode() for i in range(95)]

        # Act
        picked = [cached(key, list(range(7)), []) for key in many]

        # Assert
        assert len(cached) <= 10
        assert picked == [default(key, list(range(7)), []) for key in many]

    def test_a_repeated_key_is_hashed_once(self) -> None:
        """The second time a key comes, its remembered hash answers (one entry per key)."""
        # Arrange
        cached = CachedPartitioner()

        # Act
        first = [cached(b"P0001", [0, 1, 2], [0, 1, 2]) for _ in range(50)]

        # Assert
        assert len(cached) == 1
        assert set(first) == {DefaultPartitioner()(b"P0001", [0, 1, 2], [0, 1, 2])}
