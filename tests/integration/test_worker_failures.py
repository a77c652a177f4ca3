"""The live worker against failures that retrying cannot fix (issue 8, defect 3)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis
from kafka.admin import KafkaAdminClient, NewTopic

from tests.helpers import make_event
from tests.integration.harness import TopicReader, Topics, poll_until, produce, start_worker
from tests.integration.test_worker_kafka import keyed, state_key, window_total

pytestmark = pytest.mark.integration
EXIT_GAVE_UP = 75


def test_a_permanent_redis_error_ends_the_worker_and_loses_nothing(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    """WRONGTYPE can never succeed: a few attempts, then the worker exits non-zero for its
    supervisor, and the events it could not count are counted once the key is repaired."""
    topics = Topics.fresh()
    account = "acct_it_wrongtype"
    occupied = state_key(key_prefix, account)
    client = redis.Redis.from_url(redis_url)
    client.rpush(occupied, "another program's list")
    produce(
        kafka_bootstrap,
        topics.input,
        keyed([make_event(account, 1_771_840_800 + i) for i in range(3)]),
    )
    app_id = f"it-{uuid.uuid4().hex[:6]}"
    worker = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, app_id, key_prefix)
    try:
        code = poll_until(lambda: worker.proc.poll() is not None, "the worker to give up")
        assert code and worker.proc.returncode == EXIT_GAVE_UP, worker.log_tail()
        log = worker.log_tail(20_000)
        assert "WRONGTYPE" in log and "giving up" in log
        client.delete(occupied)
        again = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, app_id, key_prefix)
        try:
            poll_until(
                lambda: window_total(client, key_prefix, account) == 3,
                "the three events counted after the repair",
                worker=again,
            )
        finally:
            again.stop()
    finally:
        worker.stop()
        client.close()


def test_a_dead_letter_over_the_dlq_limit_goes_as_a_reference(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    """A dead-letter topic created with a smaller message limit than the input topic's: the
    oversized dead letter goes as a reference (source topic, partition, offset in its headers)
    instead of stalling every partition on a send that can never succeed."""
    topics = Topics.fresh()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(topics.input, 3, 1, topic_configs={"max.message.bytes": "2000000"}),
                NewTopic(topics.dlq, 3, 1, topic_configs={"max.message.bytes": "100000"}),
            ]
        )
    finally:
        admin.close()
    huge = b'{"event_id": "\xff' + os.urandom(400_000)  # invalid UTF-8, 400 KB
    good = [make_event("acct_it_ref", 1_771_840_800 + i) for i in range(4)]
    produce(kafka_bootstrap, topics.input, [*keyed(good[:2]), (b"huge", huge), *keyed(good[2:])])
    client = redis.Redis.from_url(redis_url)
    dlq = TopicReader(kafka_bootstrap, topics.dlq)
    worker = start_worker(
        tmp_path, kafka_bootstrap, redis_url, topics, f"it-{uuid.uuid4().hex[:6]}", key_prefix
    )
    try:
        records = poll_until(lambda: dlq.poll(), "the dead letter", worker=worker)
        poll_until(
            lambda: window_total(client, key_prefix, "acct_it_ref") == 4,
            "the good events around it",
            worker=worker,
        )
        (record,) = records
        headers = {name: value.decode() for name, value in record.headers}
        assert record.value == b""
        assert headers["dw-reason"] == "invalid_utf8"
        assert int(headers["dw-payload-omitted-bytes"]) == len(huge)
        assert headers["dw-source-topic"] == topics.input and int(headers["dw-source-offset"]) >= 0
    finally:
        worker.stop()
        dlq.close()
        client.close()
