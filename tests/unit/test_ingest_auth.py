"""The ingest endpoint's bearer check (streams/ingest.py `authorized`): any configured token,
the scheme in any case, and header bytes that are not UTF-8 refused rather than raising; and
its options refused at start when they cannot be right."""

from __future__ import annotations

import pytest

from streams.cli import main
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


def test_an_account_field_option_names_a_mapped_format_and_a_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--account-field FORMAT=FIELD,...`: refused at start with the reason, never ignored."""
    refusals = (
        ("litellm", "at least one field"),
        ("litellm= ,", "at least one field"),
        ("v1=account", "must be one of"),
        ("kafka=consumer.id", "must be one of"),
    )
    for bad, reason in refusals:
        with pytest.raises(SystemExit) as refused:
            main(["ingest", "--account-field", bad])
        assert refused.value.code == 2
        assert reason in capsys.readouterr().err, bad


def test_a_produce_timeout_is_a_positive_finite_number_of_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for bad, reason in (("0", "more than 0"), ("-1", "more than 0"), ("inf", "more than 0"),
                        ("nan", "more than 0"), ("soon", "not a number")):  # fmt: skip
        with pytest.raises(SystemExit) as refused:
            main(["ingest", "--produce-timeout", bad])
        assert refused.value.code == 2
        assert reason in capsys.readouterr().err, bad
