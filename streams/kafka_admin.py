"""Create the worker's topics when they are missing (kafka-python admin client).

Topics are created with the replication factor asked for (`--replication-factor`: 3 on a
production cluster, so a broker's loss loses no acknowledged event) and the dead-letter topic
with a retention (`--dlq-retention-hours`): it holds events as they came, prompt text included,
so it must not keep them for ever. Settings apply at creation; an existing topic is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)
# Dead letters are kept unchanged, so the DLQ must take messages as large as the input topic
# can hold, plus the reason headers.
DLQ_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
DLQ_RETENTION_HOURS = 7 * 24.0


def dlq_topic_config(retention_hours: float = DLQ_RETENTION_HOURS) -> dict[str, str]:
    """The dead-letter topic's settings at creation."""
    if retention_hours <= 0:
        raise ValueError(f"the DLQ retention must be positive hours, not {retention_hours:g}")
    return {
        "max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES),
        "retention.ms": str(round(retention_hours * 3600 * 1000)),
    }


def admin_client(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="distillwatch-admin", **security.kafka_python()
    )


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, Mapping[str, str]],
    partitions: int,
    replication_factor: int = 1,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    admin = admin_client(bootstrap, security)
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
                log.info(
                    "created topic %s (%d partitions, replication factor %d)",
                    topic.name, partitions, replication_factor,
                )  # fmt: skip
            except TopicAlreadyExistsError:
                pass  # another worker created it first
    finally:
        admin.close()


def topic_max_message_bytes(
    bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT
) -> int | None:
    """The topic's max.message.bytes (its own or the broker's default); None if unreadable
    (no DescribeConfigs permission on a managed cluster)."""
    admin = admin_client(bootstrap, security)
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=["max.message.bytes"])
        described = admin.describe_configs([resource], config_filter="all")
        return int(described["topic"][topic]["max.message.bytes"]["value"])
    except Exception as error:  # a limit we cannot read is the configured one, not a crash
        log.warning("cannot read max.message.bytes of %s: %s", topic, error)
        return None
    finally:
        admin.close()
