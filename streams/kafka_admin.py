"""Create the worker's topics when they are missing (kafka-python admin client)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)
# Dead letters are kept unchanged, so the DLQ must take messages as large as the input topic
# can hold, plus the reason headers.
DLQ_MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, Mapping[str, str]],
    partitions: int,
    replication_factor: int = 1,
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="distillwatch-admin")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(configs))
            for name, configs in topics.items()
            if name not in existing
        ]
        for topic in missing:
            try:
                admin.create_topics([topic])
                log.info("created topic %s (%d partitions)", topic.name, partitions)
            except TopicAlreadyExistsError:
                pass  # another worker created it first
    finally:
        admin.close()


def topic_max_message_bytes(bootstrap: str, topic: str) -> int | None:
    """The topic's max.message.bytes (its own or the broker's default); None if unreadable
    (no DescribeConfigs permission on a managed cluster)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="distillwatch-admin")
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=["max.message.bytes"])
        described = admin.describe_configs([resource], config_filter="all")
        return int(described["topic"][topic]["max.message.bytes"]["value"])
    except Exception as error:  # a limit we cannot read is the configured one, not a crash
        log.warning("cannot read max.message.bytes of %s: %s", topic, error)
        return None
    finally:
        admin.close()
