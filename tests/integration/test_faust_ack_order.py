"""The pinned faust never commits past an unacked event, whatever order a batch is acked in
(issue 8, defect 10; faust issue #606). The worker's no-loss guarantee rests on this."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from tests.helpers import ROOT
from tests.integration.harness import poll_until, produce

pytestmark = pytest.mark.integration
EVENTS = 40
HOLD = 7


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, 0)) or 0
    finally:
        consumer.close()


@pytest.mark.parametrize(
    "faust_as",
    [
        "patched",
        pytest.param(
            "unpatched",
            marks=pytest.mark.xfail(
                strict=True,
                reason="faust-streaming 0.15.3 commits past a one-event gap "
                "(streams/faust_patches.py); if this passes, faust fixed it: drop the patch",
            ),
        ),
    ],
)
def test_acks_out_of_order_commit_only_up_to_the_first_unacked_event(
    tmp_path: Path, kafka_bootstrap: str, faust_as: str
) -> None:
    run = uuid.uuid4().hex[:8]
    topic, group = f"it-{run}-ack-order", f"it-{run}-ack-group"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    produce(kafka_bootstrap, topic, [(b"k", str(i).encode()) for i in range(EVENTS)])
    log_path = tmp_path / "ack-order.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.ack_order_app",
             kafka_bootstrap, topic, group, str(HOLD),
             *(["--unpatched"] if faust_as == "unpatched" else [])],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    try:
        poll_until(lambda: b"held" in log_path.read_bytes(), "the batch acked but one")
        # Every event after HOLD is acked; faust commits every 0.2 s. Wait for a commit to
        # have happened at all (the offset of the acked events before HOLD), then give it
        # many more commit intervals to go too far, if it would.
        poll_until(lambda: committed(kafka_bootstrap, group, topic) >= HOLD, "a first commit")
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            assert committed(kafka_bootstrap, group, topic) == HOLD
        assert proc.stdin is not None
        proc.stdin.write(b"release\n")  # the app acks the held event
        proc.stdin.flush()
        poll_until(
            lambda: committed(kafka_bootstrap, group, topic) == EVENTS, "the commit to the end"
        )
    except BaseException:
        # The app of a failed run (faust unpatched, above all) still holds its event: it
        # would wait on it through a graceful stop
        proc.kill()
        proc.wait()
        raise
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
