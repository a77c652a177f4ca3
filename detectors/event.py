"""The inference event, schema v1 (contracts.md §1), as small immutable records.

Only the decoder builds these; everything downstream reads them. Text fields (`system`,
`messages`, `prompt`) exist in memory only long enough for feature extraction.

They are NamedTuples rather than frozen dataclasses because the decoder builds five of them per
event on the hot path: positional NamedTuple construction is about 5x cheaper than a frozen
dataclass's `__init__` (see docs/benchmarks.md). The decoder fills them positionally, so field
order here is part of its contract (`tests/unit/test_decode.py` pins it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

SCHEMA_VERSION = 1


class ClientInfo(NamedTuple):
    ip: str | None = None
    user_agent: str | None = None
    asn: int | None = None
    country: str | None = None  # ISO 3166 alpha-2
    payment_fingerprint: str | None = None  # opaque hash of the payment method
    tls_fingerprint: str | None = None  # e.g. JA4


class ChatMessage(NamedTuple):
    role: str
    content: str  # multi-part content is flattened to text by the gateway


class RequestInfo(NamedTuple):
    system: str | None = None
    prompt_fingerprint: str | None = None  # from gateways that cannot ship text
    temperature: float | None = None  # JSON numbers: an int here is a valid float
    top_p: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    logprobs: bool | None = None
    stream: bool | None = None
    tools: int | None = None  # number of tool definitions sent
    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None  # legacy completions prompt
    logit_bias: Mapping[str, float] | None = None  # token id -> bias
    stop: tuple[str, ...] | None = None


class ResponseInfo(NamedTuple):
    status: int | None = None
    finish_reason: str | None = None  # stop, length, tool_calls, ...
    latency_ms: float | None = None


class Usage(NamedTuple):
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


class InferenceEvent(NamedTuple):
    event_id: str  # the idempotency key
    timestamp: float  # event time, Unix seconds (UTC)
    account_id: str
    model: str
    org_id: str | None = None
    api_key_id: str | None = None
    tier: str | None = None
    endpoint: str | None = None
    conversation_id: str | None = None
    turn_index: int | None = None
    client: ClientInfo = ClientInfo()
    request: RequestInfo = RequestInfo()
    response: ResponseInfo = ResponseInfo()
    usage: Usage = Usage()
    schema_version: int = SCHEMA_VERSION
