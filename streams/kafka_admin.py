"""Create the worker's topics when they are missing (kafka-python admin client)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kafka.admin import KafkaAdminClient, NewTopic
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
