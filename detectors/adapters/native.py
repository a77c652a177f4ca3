"""The adapters' compiled fast path: `distillwatch_native` (native/, Rust), when installed.

A compiled mapper gives exactly the events its Python adapter gives, for the payloads a
gateway sends every day, in a fraction of the time; any payload it does not take on (a record
that fails, a value read by one of the Python readers' lenient rules, JSON its parser refuses)
it hands back, and the Python adapter maps it. The Python adapters stay the definition, and
the only path where the package is not installed (`make venv` and the image build it; removing
it with `pip uninstall distillwatch-native` turns the fast path off).
tests/unit/test_native_adapters.py holds the two to the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from detectors.adapters.base import Adapter, Mapped

try:
    import distillwatch_native
except ImportError:  # not built here: the Python adapters do all the mapping
    distillwatch_native = None  # type: ignore[assignment]

FastMapper = Callable[[bytes], list[dict[str, Any]] | None]  # None: not taken on

AVAILABLE = distillwatch_native is not None


def compiled_first(fast: FastMapper | None, python: Adapter) -> Adapter:
    """`python`, with `fast` tried first on bytes payloads (None: `python` alone)."""
    if fast is None:
        return python

    def adapt(payload: bytes) -> Mapped:
        if type(payload) is bytes:
            events = fast(payload)
            if events is not None:
                return Mapped(events)
        return python(payload)

    return adapt


def litellm_mapper(account_keys: Sequence[str]) -> FastMapper | None:
    """The compiled LiteLLM mapper, None where the package is not installed."""
    if distillwatch_native is None:
        return None
    return distillwatch_native.LiteLlmMapper(list(account_keys)).map


def kong_mapper(account_fields: Sequence[str]) -> FastMapper | None:
    """The compiled Kong mapper, None where the package is not installed."""
    if distillwatch_native is None:
        return None
    return distillwatch_native.KongMapper(list(account_fields)).map


def otlp_mapper(account_keys: Sequence[str]) -> FastMapper | None:
    """The compiled OTLP/JSON mapper, None where the package is not installed."""
    if distillwatch_native is None:
        return None
    return distillwatch_native.OtlpMapper(list(account_keys)).map
