"""Input adapters: the gateway log formats distillwatch reads besides its own event schema v1
(docs/adapters.md). Each maps a raw payload to v1 event objects (detectors/adapters/base.py);
`v1` is no adapter at all: its payloads go to the decoder unchanged."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detectors.adapters import kong, litellm, otlp_json
from detectors.adapters.base import Adapter

V1 = "v1"

# Format name (--input-format) -> its adapter, given the account fields to read (None: the
# format's own default order)
FORMATS: dict[str, Callable[[Sequence[str] | None], Adapter]] = {
    "litellm": lambda keys: litellm.litellm_adapter(keys or litellm.DEFAULT_ACCOUNT_KEYS),
    "otlp-json": lambda keys: otlp_json.otlp_json_adapter(keys or otlp_json.DEFAULT_ACCOUNT_KEYS),
    "kong": lambda keys: kong.kong_adapter(keys or kong.DEFAULT_ACCOUNT_FIELDS),
}
INPUT_FORMATS = (V1, *FORMATS)


def adapter_for(input_format: str, account_keys: Sequence[str] | None = None) -> Adapter | None:
    """The adapter of a format; None for v1 (no mapping)."""
    if input_format == V1:
        return None
    factory = FORMATS.get(input_format)
    if factory is None:
        raise ValueError(
            f"unknown input format {input_format!r}; choose from {', '.join(INPUT_FORMATS)}"
        )
    return factory(account_keys)
