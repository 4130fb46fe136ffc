"""(b) The ceiling: a bare aiokafka consume -> produce pass-through with riskgate's Kafka shape.

Same consumer settings and batch size as the worker (read_committed, ``getmany`` of up to
``--batch`` records waiting ``--timeout-ms``), one transactional producer per input partition
with the worker's producer settings, and per partition batch: begin, send, add the offsets with
``send_offsets_to_transaction``, commit. Each input record is forwarded unchanged to every
output topic (two by default, as the worker writes an action and a target). No decoding, no
risk chain, no database: what is left is the cost of exactly-once Kafka in Python.

    python -m bench.passthrough --bootstrap HOST:PORT --group G --txn-prefix X \
        --source TOPIC --outputs ACTIONS TARGETS
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from riskgate.kafka.options import CONSUMER, PRODUCER, options
from riskgate.settings import Settings


def producer_for(args: argparse.Namespace, txn_id: str) -> AIOKafkaProducer:
    # The worker's PartitionPublisher settings, value for value.
    return AIOKafkaProducer(bootstrap_servers=args.bootstrap, **options(
        PRODUCER, "aiokafka", transactional_id=txn_id, linger_ms=args.linger_ms,
        max_batch_size=256 * 1024, max_request_size=4 * 1024 * 1024))


class PassThrough(ConsumerRebalanceListener):
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.producers: dict[TopicPartition, AIOKafkaProducer] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.stopping = asyncio.Event()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            producer = self.producers.pop(tp, None)
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # As in the worker: init_transactions fences the previous owner, then seek to the
        # committed offset, because the fetcher may already have returned (and dropped,
        # for want of a producer) records of this partition while we were starting up.
        for tp in assigned:
            producer = producer_for(self.args, f"{self.args.txn_prefix}-{tp.partition}")
            await producer.start()
            self.producers[tp] = producer
            assert self.consumer is not None
            committed = await self.consumer.committed(tp)
            if committed is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    async def forward(self, tp: TopicPartition, records: list) -> None:
        producer = self.producers.get(tp)
        if producer is None:
            return
        await producer.begin_transaction()
        futures = [await producer.send(topic, r.value, key=r.key)
                   for r in records for topic in self.args.outputs]
        await asyncio.gather(*futures)
        await producer.send_offsets_to_transaction(
            {tp: OffsetAndMetadata(records[-1].offset + 1, "")}, self.args.group)
        await producer.commit_transaction()

    async def run(self) -> None:
        a = self.args
        consumer = AIOKafkaConsumer(bootstrap_servers=a.bootstrap, **options(
            CONSUMER, "aiokafka", group_id=a.group, fetch_max_wait_ms=a.timeout_ms))
        self.consumer = consumer
        consumer.subscribe([a.source], listener=self)
        await consumer.start()
        try:
            while not self.stopping.is_set():
                batches = await consumer.getmany(timeout_ms=a.timeout_ms, max_records=a.batch)
                if batches:
                    await asyncio.gather(*(self.forward(tp, recs) for tp, recs in batches.items()))
        finally:
            await self.on_partitions_revoked(list(self.producers))
            await consumer.stop()


def add_shape_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments both pass-throughs take: group, ids, topics and the worker's batching."""
    parser.add_argument("--group", required=True)
    parser.add_argument("--txn-prefix", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--outputs", nargs="+", required=True)
    worker = Settings.model_fields  # the worker's defaults
    parser.add_argument("--batch", type=int, default=worker["batch_max_records"].default)
    parser.add_argument("--timeout-ms", type=int, default=worker["batch_timeout_ms"].default)
    parser.add_argument("--linger-ms", type=int, default=worker["publish_linger_ms"].default)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    add_shape_arguments(parser)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    app = PassThrough(args)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, app.stopping.set)
        await app.run()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
