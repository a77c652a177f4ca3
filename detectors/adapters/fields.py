"""Field helpers the adapters share: lenient reading of gateway log values (numbers sent as
strings, lists where one value is meant, multi-part message content) into v1 event values.

Each reader returns None for an absent or unusable optional value: gateways differ by version
and configuration, and an optional field that does not read is left out of the event rather
than failing the record. Required fields are checked by the adapter itself (RecordError).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from detectors.adapters.base import (
    BAD_VALUE,
    MISSING_FIELD,
    NOT_JSON,
    WRONG_TYPE,
    Mapped,
    NotJson,
    RecordError,
    Rejected,
)

# The v1 schema's bounds (detectors/schemas/inference-event.v1.schema.json): integers exact as
# doubles, ids up to 256 bytes of UTF-8, timestamps up to the end of year 9999
MAX_SAFE_INTEGER = 2**53 - 1
MAX_ID_LENGTH = 256
MAX_TIMESTAMP = 253402300799.0


def compact(value: dict[str, Any]) -> dict[str, Any]:
    """`value` without None entries, and without objects left empty by that (recursively into
    objects; lists and strings are taken as they are)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if type(item) is dict:
            item = compact(item)
            if not item:
                continue
        out[key] = item
    return out


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]...; None where a level is missing or not an object."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def as_int(value: Any) -> int | None:
    """An integer from an int, an integral float or a decimal string (OTLP's int64); None
    beyond what a double holds exactly (the schema's bound)."""
    number: int | None = None
    if type(value) is int:  # the common case first: JSON integers
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 20:
        try:
            number = int(value.strip())
        except ValueError:
            return None
    if number is None or abs(number) > MAX_SAFE_INTEGER:
        return None
    return number


def as_float(value: Any) -> float | None:
    if type(value) is float:  # the common cases first; inf - inf and nan - nan are nan
        return value if value - value == 0.0 else None
    if type(value) is int:  # JSON's: 64 bits at most, always a finite double
        return float(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_count(value: Any) -> int | None:
    """A count (tokens, choices): a non-negative `as_int`."""
    if type(value) is int:
        return value if 0 <= value <= MAX_SAFE_INTEGER else None
    number = as_int(value)
    return number if number is not None and number >= 0 else None


def as_logit_bias(value: Any) -> dict[str, float] | None:
    """A logit bias (token id -> bias) with the entries whose bias is a number; None if none."""
    if type(value) is not dict or not value:
        return None
    # The common case at C speed: numbers (a probe sends hundreds of token ids). JSON keys are
    # strings already; orjson's floats are finite, and an int too large for a double raises.
    kinds = set(map(type, value.values()))
    if kinds <= _NUMBERS:
        try:
            if kinds == _FLOAT:
                return value
            return dict(zip(value, map(float, value.values()), strict=True))
        except OverflowError:
            pass
    bias = {token: number for token, raw in value.items() if (number := as_float(raw)) is not None}
    return bias or None


_NUMBERS = frozenset((int, float))
_FLOAT = frozenset((float,))


def as_bool(value: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_str(value: Any) -> str | None:
    if type(value) is str or value is None:  # the common cases first
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def fits_id(text: str) -> bool:
    """Within the schema's identifier bound, counted in UTF-8 bytes as the decoder does."""
    return (
        len(text) <= MAX_ID_LENGTH // 4
        or len(text.encode("utf-8", "surrogatepass")) <= MAX_ID_LENGTH
    )


def as_id(value: Any) -> str | None:
    """An optional identifier (org, key, conversation, address): None if over the schema's
    length."""
    if type(value) is str and len(value) <= MAX_ID_LENGTH // 4:  # short: fits in any encoding
        return value or None
    text = as_str(value)
    return text if text is not None and fits_id(text) else None


def required_str(value: Any, name: str) -> str:
    """A required identifier (event id, account, model)."""
    if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH // 4:  # the common case first
        return value
    if value is None or value == "":
        raise RecordError(MISSING_FIELD, f"{name} is missing")
    text = as_str(value)
    if text is None:
        raise RecordError(WRONG_TYPE, f"{name} is not a string")
    if not fits_id(text):
        raise RecordError(BAD_VALUE, f"{name} is longer than {MAX_ID_LENGTH} bytes")
    return text


def required_timestamp(seconds: float | None, name: str, present: bool) -> float:
    """Unix seconds within the schema's range (1970 to 9999)."""
    if seconds is None:
        raise RecordError(
            WRONG_TYPE if present else MISSING_FIELD, f"{name} is missing or not a time"
        )
    if not 0 <= seconds <= MAX_TIMESTAMP:
        raise RecordError(BAD_VALUE, f"{name} is out of range")
    return seconds


def first_address(value: Any) -> str | None:
    """The client's address from a value that may be an X-Forwarded-For list ("client,
    proxy1, proxy2": the first is the client) or a list of addresses."""
    if isinstance(value, list):
        value = value[0] if value else None
    text = as_str(value)
    if text is None:
        return None
    first = text.split(",")[0].strip()
    return first if first and fits_id(first) else None


def content_text(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a multi-part content list
    (OpenAI `[{"type": "text", "text": ...}]`, Anthropic blocks, OTel GenAI `parts`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    texts.append(text)
        return "\n".join(texts) if texts else None
    return None


SYSTEM_ROLES = frozenset(("system", "developer"))  # roles whose text is the system prompt
# What LiteLLM logs in place of a message's text when message logging is off (in its own
# logs, and in the spans and records it exports): no text. Taken as text, every such call of
# every account would share one prompt, one template, one cross-account fingerprint.
REDACTED = "redacted-by-litellm"


def split_messages(
    raw: list[Any], text_of: Callable[[dict[str, Any]], str | None], system: list[str]
) -> list[dict[str, str]]:
    """The chat messages of a list of message objects (those with a string role), each with its
    text by `text_of`; system and developer texts go to `system` instead. A message without text
    is kept with "" (an assistant turn of tool calls makes the next turn a follow-up), and so
    is a redacted one."""
    messages: list[dict[str, str]] = []
    for message in raw:
        if type(message) is not dict:
            continue
        role = message.get("role")
        if type(role) is not str:
            continue
        text = text_of(message)
        if text == REDACTED:
            text = None
        if role in SYSTEM_ROLES:
            if text:
                system.append(text)
        else:
            messages.append({"role": role, "content": text or ""})
    return messages


def string_list(value: Any) -> list[str] | None:
    """A list of strings from a list or a single string (`stop: "\\n"`)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        items = [item for item in value if isinstance(item, str)]
        return items or None
    return None


def json_records(payload: bytes) -> list[Any]:
    """A payload's records: the items of a JSON array, one JSON value, or NDJSON lines (a line
    that does not parse is a `NotJson`, for its own rejection). RecordError if the payload is
    none of these."""
    try:
        whole = orjson.loads(payload)
    except orjson.JSONDecodeError:
        lines = [line for line in payload.splitlines() if line.strip()]
        if len(lines) < 2:
            raise RecordError(NOT_JSON, "the payload is not JSON, a JSON array or NDJSON") from None
        records: list[Any] = []
        for line in lines:
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                records.append(NotJson())
        return records
    return whole if isinstance(whole, list) else [whole]


def map_each(payload: bytes, to_event: Callable[[Any], dict[str, Any]]) -> Mapped:
    """A payload of records (`json_records`) mapped record by record: `to_event` maps one
    record or raises RecordError, which rejects that record alone."""
    mapped = Mapped()
    try:
        records = json_records(payload)
    except RecordError as error:
        mapped.rejected.append(Rejected(0, error.reason, error.detail))
        return mapped
    for index, record in enumerate(records):
        try:
            if isinstance(record, NotJson):
                raise RecordError(NOT_JSON, "the line is not JSON")
            mapped.events.append(to_event(record))
        except RecordError as error:
            mapped.rejected.append(Rejected(index, error.reason, error.detail))
    return mapped


# OpenAI-format request parameters read under their own name (the v1 fields of the same name),
# and how each reads
OPENAI_PARAMETERS: dict[str, Callable[[Any], Any]] = {
    "temperature": as_float,
    "top_p": as_float,
    "n": as_count,
    "logprobs": as_bool,
    "top_logprobs": as_count,
    "logit_bias": as_logit_bias,
    "seed": as_int,
    "stream": as_bool,
}


def read_parameters(
    source: dict[str, Any], readers: dict[str, Callable[[Any], Any]], into: dict[str, Any]
) -> None:
    """Set `into[name]` for each parameter of `source` that has a reader and reads. The
    parameters present are walked (a few), rather than every one a reader knows (a dozen)."""
    for name, value in source.items():
        read = readers.get(name)
        if read is not None and value is not None and (value := read(value)) is not None:
            into[name] = value
