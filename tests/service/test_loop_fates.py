"""The table of fates and the one retry helper."""

from __future__ import annotations

import asyncio

import pytest

from riskgate.errors import (
    OwnershipLost,
    PartitionHalted,
    PoisonMessage,
    PublisherFenced,
    PublishRefused,
    RetryableError,
    RetryablePublishError,
    RetryableStateError,
)
from riskgate.worker.fates import Fate, fate_of
from riskgate.worker.lifecycle import Backoff
from riskgate.worker.retry import Stopped, retry
from tests.support.loop_fakes import FakeClock

pytestmark = pytest.mark.service


class TestFates:
    @pytest.mark.parametrize(("error", "fate"), [
        (RetryableStateError("db down"), Fate.RETRY),
        (RetryablePublishError("timeout"), Fate.RETRY),
        (PoisonMessage("BAD", "undecodable"), Fate.DEAD_LETTER),
        (PublisherFenced("newer owner"), Fate.DROP),
        (OwnershipLost("revoked"), Fate.DROP),
        (PublishRefused("too large"), Fate.HALT),
        (PartitionHalted("state lost"), Fate.HALT),
        (ValueError("a bug"), Fate.RETRY),
    ])
    def test_each_error_type_has_one_fate(self, error, fate):
        """The table maps each error to what happens to the batch that raised it."""
        # Arrange: the error. Act:
        found = fate_of(error)

        assert found is fate

    def test_a_fenced_publisher_is_not_a_retryable_error(self):
        """Being fenced drops the partition; nothing may retry it as a passing fault."""
        assert not isinstance(PublisherFenced("x"), RetryableError)


class TestRetry:
    async def test_failures_are_retried_with_the_doubling_backoff_until_success(self):
        """Each failure waits the next Backoff delay; the first success is returned."""
        clock, calls = FakeClock(), []

        async def attempt() -> str:
            calls.append(clock.now())
            if len(calls) < 4:
                raise RetryableStateError("down")
            return "done"

        result = await retry(attempt, what="test", sleep=clock.sleep, backoff=Backoff(0.5, 1.5))

        assert result == "done"
        assert clock.slept == [0.5, 1.0, 1.5]

    async def test_an_error_outside_retry_on_or_in_fatal_propagates_at_once(self):
        """Only the listed errors are retried; a fatal one ends the loop on the first attempt."""
        clock = FakeClock()

        async def refused() -> None:
            raise PublishRefused("not authorised")

        with pytest.raises(PublishRefused):
            await retry(refused, what="test", sleep=clock.sleep, fatal=(PublishRefused,))

        assert clock.slept == []

    async def test_a_stop_ends_the_retries(self):
        """Once the stop event is set, retry raises Stopped instead of trying again."""
        clock, stopping = FakeClock(), asyncio.Event()

        async def failing() -> None:
            stopping.set()
            raise RetryableStateError("down")

        with pytest.raises(Stopped):
            await asyncio.wait_for(retry(failing, what="test", sleep=clock.sleep, stopping=stopping), 5)
