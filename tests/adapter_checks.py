"""What every adapter's output must be: a valid inference event v1, for the JSON Schema and
for the decoder the pipeline runs (tests of detectors/adapters)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import orjson
from hypothesis import strategies as st

from detectors.decode import decode_event, parse_timestamp
from tests.helpers import ROOT

EVENT_SCHEMA = json.loads((ROOT / "detectors/schemas/inference-event.v1.schema.json").read_text())
EVENT_VALIDATOR = jsonschema.Draft202012Validator(
    EVENT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
FIXTURES = ROOT / "tests" / "fixtures" / "adapters"
PARAMETERS = ("temperature", "top_p", "max_tokens", "n", "logprobs", "top_logprobs",
              "logit_bias", "seed", "stop", "stream")  # fmt: skip
CALL_TYPES = {"chat": "acompletion", "completions": "atext_completion", "embeddings": "aembedding"}


def assert_valid_event(event: dict[str, Any]) -> None:
    errors = sorted(EVENT_VALIDATOR.iter_errors(event), key=str)
    assert not errors, [error.message for error in errors]
    decode_event(orjson.dumps(event))  # raises on what the pipeline would dead-letter


CHARACTERS_PER_TOKEN = 4  # English text's average in OpenAI's tokenizers


def replies(events: list[dict[str, Any]]) -> list[str]:
    """A completion for each simulated call, for the gateways that log the response: about
    four characters per output token, cut from the calls' own prompts (real text, with its
    line breaks, quotes and Unicode), so a logged response has a real one's size and escapes."""
    text = "\n\n".join(
        message["content"]
        for event in events
        for message in (event.get("request") or {}).get("messages") or []
        if message.get("content")
    )
    lengths = [
        CHARACTERS_PER_TOKEN * (event.get("usage") or {}).get("output_tokens", 0)
        for event in events
    ]
    if not text:
        return ["" for _ in events]
    source = text * (2 + max(lengths, default=0) // len(text))
    starts = [(i * 7919) % len(text) for i in range(len(events))]
    return [source[start : start + length] for start, length in zip(starts, lengths, strict=True)]


def as_litellm(event: dict[str, Any], completion: str | None = None) -> dict[str, Any]:
    """A simulated event v1 as LiteLLM's StandardLoggingPayload would log that call (the
    response's text a short placeholder unless a `completion` is given)."""
    start = parse_timestamp(event["timestamp"])
    request, response = event.get("request", {}), event.get("response", {})
    client, usage = event.get("client", {}), event.get("usage", {})
    messages = [{"role": "system", "content": request["system"]}] if request.get("system") else []
    messages += request.get("messages", [])
    params = {key: request[key] for key in PARAMETERS if key in request}
    if request.get("tools"):
        params["tools"] = [{"type": "function"}] * request["tools"]
    status = response.get("status", 200)
    return {
        "id": f"resp-{event['event_id']}",
        "litellm_call_id": event["event_id"],
        "call_type": CALL_TYPES.get(event.get("endpoint", "chat"), "acompletion"),
        "status": "success" if status < 400 else "failure",
        "startTime": start,
        "endTime": start + response.get("latency_ms", 800) / 1000,
        "model": "upstream-" + event["model"],
        "model_group": event["model"],
        "metadata": {
            "user_api_key_team_id": event["account_id"],
            "user_api_key_hash": event.get("api_key_id"),
            "user_agent": client.get("user_agent"),
        },
        "requester_ip_address": client.get("ip"),
        "messages": messages or request.get("prompt", "redacted-by-litellm"),
        "model_parameters": params,
        "prompt_tokens": usage.get("input_tokens", 0),
        "completion_tokens": usage.get("output_tokens", 0),
        "error_information": {"error_code": str(status)} if status >= 400 else None,
        "response": {
            "object": "chat.completion",
            "model": event["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion or "..."},
                    "finish_reason": response.get("finish_reason", "stop"),
                }
            ],
        },
    }


def replace_anywhere(
    document: Any, data: st.DataObject, values: st.SearchStrategy[Any], times: int = 3
) -> None:
    """Replace 1 to `times` fields of a parsed document (any depth, lists included) by values
    drawn from `values`, in place."""
    places: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            places.append((node, key))
            if isinstance(child, dict | list):
                walk(child)

    walk(document)
    for _ in range(data.draw(st.integers(1, times))):
        parent, key = data.draw(st.sampled_from(places))
        parent[key] = data.draw(values)
