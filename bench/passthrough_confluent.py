"""(b') The ceiling again, with librdkafka: a confluent-kafka consume -> produce pass-through.

Same semantics as ``bench.passthrough`` (read_committed input, each record forwarded unchanged
to every output topic, the input offsets committed inside the output transaction), but
librdkafka implements KIP-447: ``send_offsets_to_transaction`` carries the consumer's group
metadata (generation and member id), so a zombie is fenced by the group coordinator and ONE
transactional producer serves every partition this process owns. So here: one producer, and
per consumed batch (up to ``--batch`` records, any partitions) begin, produce, send the
offsets, commit. The connection settings come from ``Settings()`` (the worker's environment,
``RISKGATE_*``) through ``riskgate.kafka.clients.confluent_config``.

    python -m bench.passthrough_confluent --group G --txn-prefix X --source T --outputs A B
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from bench.passthrough import add_shape_arguments
from riskgate.kafka.clients import confluent_config
from riskgate.kafka.options import CONSUMER, PRODUCER, options
from riskgate.settings import Settings


def configs(s: Settings, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Consumer and producer settings: the worker's values in librdkafka's names."""
    base = confluent_config(s)
    consumer = options(CONSUMER, "confluent", group_id=args.group, fetch_max_wait_ms=args.timeout_ms)
    producer = options(PRODUCER, "confluent", transactional_id=f"{args.txn_prefix}-confluent",
                       linger_ms=args.linger_ms, max_batch_size=256 * 1024,
                       max_request_size=4 * 1024 * 1024)
    return base | consumer, base | producer


def next_offsets(messages: list[Message]) -> list[TopicPartition]:
    """The offset after the last record of each partition in ``messages``."""
    last: dict[tuple[str, int], int] = {}
    for m in messages:
        last[(m.topic(), m.partition())] = m.offset()
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class PassThrough:
    def __init__(self, s: Settings, args: argparse.Namespace) -> None:
        self.args = args
        consumer_conf, producer_conf = configs(s, args)
        self.consumer = Consumer(consumer_conf)
        self.producer = Producer(producer_conf)
        self.stopping = False

    def forward(self, messages: list[Message]) -> None:
        p = self.producer
        p.begin_transaction()
        for m in messages:
            for topic in self.args.outputs:
                p.produce(topic, m.value(), m.key())
            p.poll(0)
        p.send_offsets_to_transaction(next_offsets(messages),
                                      self.consumer.consumer_group_metadata())
        p.commit_transaction()

    def run(self) -> None:
        self.producer.init_transactions()  # fences a previous process with the same id
        self.consumer.subscribe([self.args.source])
        try:
            while not self.stopping:
                batch = self.consumer.consume(self.args.batch, self.args.timeout_ms / 1000)
                good = [m for m in batch if m.error() is None]
                if good:
                    self.forward(good)
        except KafkaException:
            with contextlib.suppress(KafkaException):  # none may be open: the first error counts
                self.producer.abort_transaction(10)
            raise
        finally:
            self.consumer.close()
            self.producer.flush(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shape_arguments(parser)
    args = parser.parse_args()
    app = PassThrough(Settings(), args)

    def stop(*_: object) -> None:
        app.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    app.run()


if __name__ == "__main__":
    main()
