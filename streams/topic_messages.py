"""What the workers' agents produce to Kafka besides link records: dead letters and alerts.

A dead letter keeps its original key and value and says why and where it came from in
headers (`dw-reason`, `dw-detail`, `dw-source-topic`, `dw-source-partition`,
`dw-source-offset`); one larger than the dead-letter topic takes goes as a reference (empty
value, `dw-payload-omitted-bytes`) instead of a send that can never succeed. An alert is keyed
by its `dedup_key`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

DLQ_HEADROOM_BYTES = 4096  # the reason headers and the record's own overhead


async def send_dead_letter(
    topic: Any, message: Any, value: bytes, reason: str, detail: str, max_bytes: int
) -> asyncio.Future[Any]:
    """`message`: faust's record of where the value was read (topic, partition, offset, key)."""
    headers = [
        ("dw-reason", reason.encode()),
        ("dw-detail", detail.encode()),
        ("dw-source-topic", str(message.topic).encode()),
        ("dw-source-partition", str(message.partition).encode()),
        ("dw-source-offset", str(message.offset).encode()),
    ]
    if len(value) + len(message.key or b"") + DLQ_HEADROOM_BYTES > max_bytes:
        headers.append(("dw-payload-omitted-bytes", str(len(value)).encode()))
        value = b""
    future: asyncio.Future[Any] = await topic.send(
        key=message.key, value=value, headers=headers, force=True
    )
    return future


async def send_alert(topic: Any, alert: dict[str, Any]) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = await topic.send(
        key=alert["dedup_key"].encode(), value=orjson.dumps(alert), force=True
    )
    return future
