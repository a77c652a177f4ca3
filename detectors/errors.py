"""Errors of the detection core; each names what an operator or a producer must fix."""

from __future__ import annotations


class DistillwatchError(Exception):
    """Base of every error raised on purpose by distillwatch."""


class EventDecodeError(DistillwatchError):
    """An input message is not a valid inference event (schema v1); it goes to the dead-letter
    topic with `reason` (a stable machine-readable code) and `detail` (a human sentence that
    names the field but never repeats its value, so no prompt text leaks into the DLQ headers)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(DistillwatchError):
    """A configuration file is refused; the message names the file, the key and the reason."""
