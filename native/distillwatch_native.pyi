"""Type stubs of distillwatch_native, the compiled fast path of distillwatch's adapters."""

from typing import Any

class KongMapper:
    """Kong log entries to v1 events; `account_fields` are dotted paths into an entry."""

    def __init__(self, account_fields: list[str]) -> None: ...
    def map(self, payload: bytes) -> list[dict[str, Any]] | None:
        """The payload's events, or None when the Python adapter must map it."""

class OtlpMapper:
    """OTLP/JSON trace exports to v1 events; the account is the first of `account_keys`."""

    def __init__(self, account_keys: list[str]) -> None: ...
    def map(self, payload: bytes) -> list[dict[str, Any]] | None:
        """The export's events, or None when the Python adapter must map it."""

class LiteLlmMapper:
    """LiteLLM StandardLoggingPayloads to v1 events; the account is the first present of the
    metadata keys `account_keys`."""

    def __init__(self, account_keys: list[str]) -> None: ...
    def map(self, payload: bytes) -> list[dict[str, Any]] | None:
        """The payload's events, or None when the Python adapter must map it."""
