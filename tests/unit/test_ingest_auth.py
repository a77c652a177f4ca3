"""The ingest endpoint's bearer check (streams/ingest.py `authorized`): any configured token,
the scheme in any case, and header bytes that are not UTF-8 refused rather than raising."""

from __future__ import annotations

from streams.ingest import authorized

TOKENS = [b"old-token-being-rotated", b"current-token"]


def test_any_configured_token_is_accepted_in_any_scheme_case() -> None:
    assert authorized("Bearer current-token", TOKENS)
    assert authorized("bearer old-token-being-rotated", TOKENS)
    assert authorized("BEARER  current-token ", TOKENS)


def test_anything_else_is_refused_without_raising() -> None:
    for header in (None, "", "Bearer", "Bearer ", "Basic current-token", "Bearer wrong",
                   "current-token", "Bearer \udcff\udcfe"):  # fmt: skip
        assert not authorized(header, TOKENS), header
