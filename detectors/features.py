"""Per-event features: the numbers the windows count. Prompt text is not kept."""

from __future__ import annotations

import hashlib

from detectors.config import DetectionConfig
from detectors.event import InferenceEvent
from detectors.windows import WindowUpdate

DEFAULT_TIER = "default"


def event_key(event_id: str) -> str:
    """A 64-bit digest of the event id: bounded state whatever ids the gateway uses."""
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).hexdigest()


def is_single_turn(event: InferenceEvent) -> bool:
    """Opens a conversation and carries no earlier turns (no assistant or tool messages)."""
    if event.turn_index is not None:
        return event.turn_index == 0
    return not any(m.role in ("assistant", "tool", "function") for m in event.request.messages)


def is_near_max_output(event: InferenceEvent, near_max_ratio: float, min_max_tokens: int) -> bool:
    """A long-output request whose output ran up to (near) its max_tokens budget."""
    max_tokens = event.request.max_tokens
    if max_tokens is None or max_tokens < min_max_tokens:
        return False
    if event.response.finish_reason == "length":
        return True
    return event.usage.output_tokens >= near_max_ratio * max_tokens


def tier_of(event: InferenceEvent) -> str:
    return event.tier or DEFAULT_TIER


def window_update(event: InferenceEvent, config: DetectionConfig) -> WindowUpdate:
    vh = config.detectors.volume_harvest
    counters = (
        1,
        event.usage.input_tokens,
        event.usage.output_tokens,
        int(is_single_turn(event)),
        int(is_near_max_output(event, vh.near_max_ratio, vh.near_max_min_max_tokens)),
    )
    return WindowUpdate(
        account_id=event.account_id,
        event_key=event_key(event.event_id),
        timestamp=event.timestamp,
        counters=counters,
    )
