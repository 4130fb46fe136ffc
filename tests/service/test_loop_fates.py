"""The table of fates and the one retry helper."""

from __future__ import annotations

import asyncio

import pytest

from riskgate.errors import PublisherFenced, PublishRefused, RetryableError, RetryableStateError
from riskgate.worker.fates import FATES, Fate, fate_of
from riskgate.worker.lifecycle import Backoff
from riskgate.worker.retry import Stopped, retry
from tests.support.loop_fakes import FakeClock

pytestmark = pytest.mark.service


# What each listed error type must do to its batch, written out apart from the table itself.
EXPECTED_FATES = {
    "PoisonMessage": Fate.DEAD_LETTER,
    "PublisherFenced": Fate.DROP,
    "OwnershipLost": Fate.DROP,
    "PublishRefused": Fate.HALT,
    "PartitionHalted": Fate.HALT,
    "RetryablePublishError": Fate.RETRY,
    "RetryableStateError": Fate.RETRY,
    "RetryableError": Fate.RETRY,
}


class TestFates:
    def test_every_listed_error_type_has_an_expected_fate(self):
        """The table lists exactly the error types this test expects a fate for."""
        # Act
        listed = [kind.__name__ for kind, _ in FATES]

        # Assert
        assert sorted(listed) == sorted(EXPECTED_FATES)

    @pytest.mark.parametrize("kind", [kind for kind, _ in FATES], ids=lambda k: k.__name__)
    def test_each_error_type_has_its_fate(self, kind):
        """An error of each listed type gets its expected fate, whatever comes first in the
        table (first match wins)."""
        # Arrange: fate_of looks only at the type, so no constructor arguments are needed.
        error = kind.__new__(kind)

        # Act
        found = fate_of(error)

        # Assert
        assert found is EXPECTED_FATES[kind.__name__]

    def test_an_unlisted_error_is_retried(self):
        """An error the table does not list (a bug) keeps the records and retries them."""
        assert fate_of(ValueError("a bug")) is Fate.RETRY

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
