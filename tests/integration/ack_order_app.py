"""A faust app for tests/integration/test_faust_ack_order.py (run as a process).

    python -m tests.integration.ack_order_app BOOTSTRAP TOPIC GROUP HOLD_OFFSET RELEASE_FILE
        [--unpatched]

Takes a batch without acking (as the worker does), acks its events in reverse order except the
one at HOLD_OFFSET, prints `held` and waits until RELEASE_FILE exists; then acks that one too
and prints `released`. The test reads the group's committed offset meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import faust

from streams.faust_patches import guard_uncommitted_gaps


def main() -> None:
    bootstrap, topic_name, group, hold, release = sys.argv[1:6]
    hold_offset = int(hold)
    if "--unpatched" not in sys.argv:
        guard_uncommitted_gaps()  # as the worker runs faust
    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="ack-order-"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.2,
        topic_allow_declare=False,
    )
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

    @app.agent(topic)
    async def take(stream: Any) -> None:
        async for events in stream.noack_take(1000, within=2.0):
            held = [e for e in events if e.message.offset == hold_offset]
            for event in reversed(events):
                if event.message.offset != hold_offset:
                    await stream.ack(event)
            print("held", len(events), flush=True)
            while not Path(release).exists():
                await asyncio.sleep(0.1)  # waits on the test's file, not on time
            for event in held:
                await stream.ack(event)
            print("released", flush=True)

    logging.basicConfig(level=logging.WARNING)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
