"""A faust app for tests/integration/test_faust_ack_order.py (run as a process).

    python -m tests.integration.ack_order_app BOOTSTRAP TOPIC GROUP HOLD_OFFSET [--unpatched]

Takes a batch without acking (as the worker does), acks its events in reverse order except the
one at HOLD_OFFSET, prints `held` and waits for a line on its standard input (at most
RELEASE_DEADLINE_S); then acks that one too and prints `released`. The test reads the group's
committed offset meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from typing import Any

import faust

from streams.faust_patches import guard_uncommitted_gaps

RELEASE_DEADLINE_S = 120.0


def main() -> None:
    bootstrap, topic_name, group, hold = sys.argv[1:5]
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
            # The test's release: a line on stdin, read off the event loop, with a deadline.
            line = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            await asyncio.wait_for(line, timeout=RELEASE_DEADLINE_S)
            for event in held:
                await stream.ack(event)
            print("released", flush=True)

    logging.basicConfig(level=logging.WARNING)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
