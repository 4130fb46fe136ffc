"""NautilusTrader's RiskEngine pre-trade checks, timed per order, as the comparison point.

Built from nautilus-trader's own test kit (component stubs, instrument provider, event
stubs): a CASH account, ``max_notional_per_order`` and a submit-rate limit, orders built
before the clock starts, and a no-op downstream execution endpoint. Nautilus is optional
(the ``bench`` extra); ``measure`` returns ``{"available": False, ...}`` when it is missing.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

NAUTILUS_VERSION = "1.221.0"
INSTRUMENT_COUNT = 50


def _engine() -> tuple[Any, Any, Any, list[Any]]:
    """A started RiskEngine with a CASH account and equities priced in USD on venue SIM."""
    from nautilus_trader.accounting.factory import AccountFactory
    from nautilus_trader.risk.config import RiskEngineConfig
    from nautilus_trader.risk.engine import RiskEngine
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.test_kit.stubs.component import TestComponentStubs
    from nautilus_trader.test_kit.stubs.events import TestEventStubs
    from nautilus_trader.test_kit.stubs.identifiers import TestIdStubs

    clock = TestComponentStubs.clock()  # a LiveClock: the rate limit runs on real time
    from nautilus_trader.common.component import MessageBus

    msgbus = MessageBus(trader_id=TestIdStubs.trader_id(), clock=clock)
    cache = TestComponentStubs.cache()
    from nautilus_trader.portfolio.portfolio import Portfolio

    portfolio = Portfolio(msgbus=msgbus, cache=cache, clock=clock)
    instruments = [TestInstrumentProvider.equity(f"T{i:05d}", "SIM") for i in range(INSTRUMENT_COUNT)]
    for instrument in instruments:
        cache.add_instrument(instrument)
    cache.add_account(AccountFactory.create(TestEventStubs.cash_account_state()))
    sink = _NoOpDownstream()
    msgbus.register(endpoint="ExecEngine.execute", handler=sink.execute)
    msgbus.register(endpoint="ExecEngine.process", handler=sink.process)
    config = RiskEngineConfig(
        max_order_submit_rate="1000000/00:00:01",  # checked per order, never binding here
        max_notional_per_order={str(i.id): 50_000 for i in instruments},
    )
    engine = RiskEngine(portfolio=portfolio, msgbus=msgbus, cache=cache, clock=clock, config=config)
    engine.start()
    return engine, clock, sink, instruments


class _NoOpDownstream:
    """Counts what the risk engine passes on or denies, and does nothing else."""

    def __init__(self) -> None:
        self.sent = 0
        self.denied = 0

    def execute(self, command: Any) -> None:
        self.sent += 1

    def process(self, event: Any) -> None:
        self.denied += 1


def _commands(instruments: list[Any], clock: Any, count: int, seed: int) -> list[Any]:
    """``count`` SubmitOrder commands of LIMIT orders, some over the notional cap."""
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.messages import SubmitOrder
    from nautilus_trader.model.enums import OrderSide
    from nautilus_trader.model.identifiers import StrategyId, TraderId
    from nautilus_trader.model.objects import Price, Quantity
    from nautilus_trader.test_kit.stubs.component import TestComponentStubs

    factory = TestComponentStubs.order_factory()
    factory.set_client_order_id_count(seed * count)
    trader, strategy = TraderId("TESTER-000"), StrategyId("S-001")
    commands = []
    for k in range(count):
        instrument = instruments[(k * 7) % len(instruments)]
        price = 20.0 + (k * 37) % 480
        side = OrderSide.BUY if k % 3 else OrderSide.SELL
        order = factory.limit(instrument.id, side, Quantity.from_int(100 * (1 + k % 4)),
                              Price(price, 2))
        commands.append(SubmitOrder(trader_id=trader, strategy_id=strategy, order=order,
                                    command_id=UUID4(), ts_init=clock.timestamp_ns()))
    return commands


def measure(orders: int = 2000, rounds: int = 7) -> dict[str, Any]:
    """Median µs per SubmitOrder through ``RiskEngine.execute`` over ``rounds`` fresh batches."""
    try:
        import nautilus_trader
    except ImportError as exc:
        return {"available": False, "error": f"import nautilus_trader: {exc}",
                "install": f"pip install 'nautilus-trader=={NAUTILUS_VERSION}' (the bench extra)"}
    engine, clock, sink, instruments = _engine()
    times = []
    for r in range(rounds + 1):
        commands = _commands(instruments, clock, orders, r + 1)  # an order is checked once
        start = time.perf_counter()
        for command in commands:
            engine.execute(command)
        elapsed = (time.perf_counter() - start) / orders * 1e6
        if r:  # the first round warms caches
            times.append(elapsed)
    return {
        "available": True, "version": nautilus_trader.__version__, "orders": orders,
        "rounds": rounds, "us_per_order": round(statistics.median(times), 3),
        "passed": sink.sent, "denied": sink.denied,
    }
