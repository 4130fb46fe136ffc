"""The one place Kafka clients are built, so that none forgets a security setting.

Every aiokafka client riskgate makes (worker, admin, API, stats, replay, redrive, demo) comes
from here; ``confluent_config`` gives the same settings to a librdkafka client.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

from riskgate.settings import Settings


def _ssl_context(s: Settings) -> ssl.SSLContext:
    key_password = s.kafka_ssl_key_password.get_secret_value() if s.kafka_ssl_key_password else None
    return create_ssl_context(
        cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None,
        certfile=str(s.kafka_ssl_certfile) if s.kafka_ssl_certfile else None,
        keyfile=str(s.kafka_ssl_keyfile) if s.kafka_ssl_keyfile else None,
        password=key_password)


def kafka_options(s: Settings) -> dict[str, Any]:
    """The connection options every aiokafka client takes: servers, TLS and SASL."""
    options: dict[str, Any] = {"bootstrap_servers": s.bootstrap_servers,
                               "security_protocol": s.kafka_security_protocol}
    if s.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(s)
    if s.kafka_security_protocol.startswith("SASL_"):
        assert s.kafka_sasl_password is not None  # checked by the settings
        options.update(sasl_mechanism=s.kafka_sasl_mechanism,
                       sasl_plain_username=s.kafka_sasl_username,
                       sasl_plain_password=s.kafka_sasl_password.get_secret_value())
    return options


def kafka_producer(s: Settings, **kwargs: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**kafka_options(s), **kwargs)


def kafka_consumer(s: Settings, *topics: str, **kwargs: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **kafka_options(s), **kwargs)


def kafka_admin(s: Settings, **kwargs: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**kafka_options(s), **kwargs)


def confluent_config(s: Settings) -> dict[str, str]:
    """The same connection settings in librdkafka's names (confluent-kafka)."""
    config = {"bootstrap.servers": s.bootstrap_servers,
              "security.protocol": s.kafka_security_protocol.lower()}
    if s.kafka_security_protocol.startswith("SASL_"):
        assert s.kafka_sasl_password is not None
        config.update({"sasl.mechanisms": s.kafka_sasl_mechanism,
                       "sasl.username": s.kafka_sasl_username or "",
                       "sasl.password": s.kafka_sasl_password.get_secret_value()})
    files = {"ssl.ca.location": s.kafka_ssl_cafile,
             "ssl.certificate.location": s.kafka_ssl_certfile,
             "ssl.key.location": s.kafka_ssl_keyfile}
    config.update({k: str(v) for k, v in files.items() if v is not None})
    if s.kafka_ssl_key_password is not None:
        config["ssl.key.password"] = s.kafka_ssl_key_password.get_secret_value()
    return config


# librdkafka clients (the worker's `kafka_client = "confluent"`). confluent-kafka is an
# optional extra, so it is imported only when one is asked for.

def confluent_consumer(s: Settings, **config: Any) -> Any:
    from confluent_kafka import Consumer
    return Consumer({**confluent_config(s), **config})


def confluent_producer(s: Settings, **config: Any) -> Any:
    from confluent_kafka import Producer
    return Producer({**confluent_config(s), **config})


def confluent_admin(s: Settings, **config: Any) -> Any:
    from confluent_kafka.admin import AdminClient
    return AdminClient({**confluent_config(s), **config})
