"""The worker's database check is its pool's first connection."""

from __future__ import annotations

import pytest

from riskgate.settings import Settings
from riskgate.worker.access import open_pool

pytestmark = pytest.mark.service


class TestOpenPool:
    async def test_a_pool_without_a_first_connection_is_refused(self):
        """min_size 0 would open no connection, so nothing would be checked: it is refused."""
        with pytest.raises(ValueError, match="min_size"):
            await open_pool(Settings(), min_size=0, max_size=1)
