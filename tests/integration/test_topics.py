"""`riskgate topics create` against the real broker."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from riskgate.kafka.admin import create_topics, topic_specs
from riskgate.worker.inputs import partitions_of
from tests.support.kafka import topics

pytestmark = pytest.mark.integration


class TestTopicsCreate:
    async def test_every_topic_has_its_partitions_and_cleanup_policy(self, test_settings):
        """Keyed topics get the configured partitions; the global inputs are compacted; a rerun is a no-op."""
        s = test_settings
        async with topics(s):
            again = await create_topics(s)
            admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap_servers)
            await admin.start()
            try:
                specs = topic_specs(s)
                described = await admin.describe_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in specs])
            finally:
                await admin.close()
            policies = {}
            for response in described:
                for resource in response.resources:
                    name, entries = resource[3], resource[4]
                    policies[name] = {e[0]: e[1] for e in entries}["cleanup.policy"]
            parts = {spec.name: len(await partitions_of(s, spec.name)) for spec in specs}
        assert set(again.values()) == {"exists"}
        for spec in specs:
            assert policies[spec.name] == ("compact" if spec.compacted else "delete")
            assert parts[spec.name] == spec.partitions
        compacted = {spec.name for spec in specs if spec.compacted}
        assert compacted == {s.topics.snapshots, s.topics.black_swan, s.topics.market, s.topics.config}
