"""The inference event, schema v1 (contracts.md §1), as small frozen records.

Only the decoder builds these; everything downstream reads them. Text fields (`system`,
`messages`, `prompt`) exist in memory only long enough for feature extraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None
    asn: int | None = None
    country: str | None = None  # ISO 3166 alpha-2
    payment_fingerprint: str | None = None  # opaque hash of the payment method
    tls_fingerprint: str | None = None  # e.g. JA4


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str  # multi-part content is flattened to text by the gateway


@dataclass(frozen=True, slots=True)
class RequestInfo:
    system: str | None = None
    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None  # legacy completions prompt
    prompt_fingerprint: str | None = None  # from gateways that cannot ship text
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    logprobs: bool | None = None
    stream: bool | None = None
    logit_bias: Mapping[str, float] | None = None  # token id -> bias
    stop: tuple[str, ...] | None = None
    tools: int | None = None  # number of tool definitions sent


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    status: int | None = None
    finish_reason: str | None = None  # stop, length, tool_calls, ...
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class InferenceEvent:
    event_id: str  # the idempotency key
    timestamp: float  # event time, Unix seconds (UTC)
    account_id: str
    model: str
    schema_version: int = SCHEMA_VERSION
    org_id: str | None = None
    api_key_id: str | None = None
    tier: str | None = None
    endpoint: str | None = None
    conversation_id: str | None = None
    turn_index: int | None = None
    client: ClientInfo = field(default_factory=ClientInfo)
    request: RequestInfo = field(default_factory=RequestInfo)
    response: ResponseInfo = field(default_factory=ResponseInfo)
    usage: Usage = field(default_factory=Usage)
