"""Small lifecycle helpers of the worker: retry backoff and shutdown signals."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Exponential backoff for one kind of fault."""

    initial: float = 0.2
    maximum: float = 5.0
    current: float = field(default=0.0)

    def next(self) -> float:
        self.current = self.initial if self.current == 0.0 else min(self.current * 2, self.maximum)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT finish the batch in flight, commit it, then exit."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
