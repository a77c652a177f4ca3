"""The alert lifecycle (detectors/lifecycle.py): one incident per rule and subject, firing,
updated, resolved after a hold-down of event time, whatever the batching."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.alerts import alert_id_for, rfc3339
from detectors.findings import Finding
from detectors.lifecycle import (
    FIRING,
    RESOLVED,
    UPDATED,
    AlertState,
    Crossing,
    expire,
    observe,
)

T0 = 1_767_225_600.0
HOLD = 3600.0
RUNBOOKS = "https://runbooks.example/"


def finding(severity: str = "high", accounts: tuple[str, ...] = (), value: int = 1) -> Finding:
    return Finding(
        rule_id="cluster_rule" if accounts else "volume_harvest",
        account_id=accounts[0] if accounts else "acct_1",
        severity=severity,
        score=0.7,
        window="1h",
        evidence={"requests": value},
        summary="numbers only",
        cluster_id="c1" if accounts else None,
        accounts=accounts,
    )


def run(
    state: AlertState | None, *crossings: Crossing
) -> tuple[AlertState | None, list[dict[str, Any]]]:
    decision = observe(state, crossings, "p:0", HOLD, RUNBOOKS)
    return decision.state or state, list(decision.messages)


def test_the_first_crossing_pages_with_the_id_alerts_always_had() -> None:
    state, (message,) = run(None, Crossing(finding(), T0))
    assert state is not None and state.active
    assert message["transition"] == FIRING and message["status"] == "firing"
    assert message["sequence"] == 1 and message["suppressed"] == 0
    assert message["alert_id"] == alert_id_for("volume_harvest:account:acct_1", T0)
    assert message["fired_at"] == message["changed_at"] == rfc3339(T0)


def test_repeat_crossings_while_active_are_suppressed_and_counted() -> None:
    state, _ = run(None, Crossing(finding(), T0))
    state, messages = run(state, Crossing(finding(value=2), T0 + 60), Crossing(finding(), T0 + 90))
    assert messages == []
    assert state is not None and state.suppressed == 2 and state.last_seen == T0 + 90


def test_a_rise_in_severity_or_members_is_an_update_of_the_same_incident() -> None:
    state, (first,) = run(None, Crossing(finding("high"), T0))
    state, (update,) = run(state, Crossing(finding("critical", value=9), T0 + 60))
    assert update["transition"] == UPDATED and update["status"] == "firing"
    assert update["dedup_key"] == first["dedup_key"]
    assert update["fired_at"] == first["fired_at"] and update["changed_at"] == rfc3339(T0 + 60)
    assert update["alert_id"] != first["alert_id"] and update["sequence"] == 2
    assert update["severity"] == "critical" and update["evidence"] == {"requests": 9}
    state, messages = run(state, Crossing(finding("high"), T0 + 120))  # back down: not news
    assert messages == [] and state is not None and state.severity == "critical"
    cluster, _ = run(None, Crossing(finding(accounts=("a", "b")), T0))
    cluster, (grown,) = run(cluster, Crossing(finding(accounts=("a", "b", "c")), T0 + 60))
    assert grown["transition"] == UPDATED and grown["subject"]["accounts"] == ["a", "b", "c"]
    cluster, messages = run(cluster, Crossing(finding(accounts=("a", "b", "c")), T0 + 120))
    assert messages == []


def test_an_incident_resolves_once_clear_for_the_hold_down() -> None:
    state, (first,) = run(None, Crossing(finding(), T0))
    state, _ = run(state, Crossing(finding(), T0 + 100))
    assert state is not None
    assert expire(state, T0 + 100 + HOLD - 1).messages == ()
    decision = expire(state, T0 + 100 + HOLD + 5000)
    (resolved,) = decision.messages
    assert resolved["transition"] == RESOLVED and resolved["status"] == "resolved"
    # Stamped when the hold-down ran out, not when it was noticed: batching changes nothing.
    assert resolved["changed_at"] == rfc3339(T0 + 100 + HOLD)
    assert resolved["last_seen_at"] == rfc3339(T0 + 100)
    assert resolved["fired_at"] == first["fired_at"] and resolved["suppressed"] == 1
    assert resolved["evidence"] == first["evidence"] and resolved["sequence"] == 2
    assert decision.state is not None and not decision.state.active
    assert expire(decision.state, T0 + 10 * HOLD).messages == ()  # once


def test_a_crossing_after_the_hold_down_resolves_the_old_incident_then_opens_a_new_one() -> None:
    state, _ = run(None, Crossing(finding(), T0))
    state, messages = run(state, Crossing(finding(), T0 + HOLD + 1))
    assert [(m["transition"], m["fired_at"]) for m in messages] == [
        (RESOLVED, rfc3339(T0)),
        (FIRING, rfc3339(T0 + HOLD + 1)),
    ]
    assert state is not None and state.active and state.sequence == 1


def test_crossings_already_observed_change_nothing() -> None:
    """A redelivered batch brings its crossings again: they are skipped."""
    crossings = (Crossing(finding(), T0), Crossing(finding("critical"), T0 + 5))
    state, messages = run(None, *crossings)
    assert len(messages) == 2
    decision = observe(state, crossings, "p:0", HOLD, RUNBOOKS)
    assert decision.state is None and decision.messages == ()


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(0.5, 2.5 * HOLD), min_size=1, max_size=25),
    severities=st.lists(st.sampled_from(["warning", "high", "critical"]), min_size=25),
    cuts=st.lists(st.booleans(), min_size=25, max_size=25),
    sweeps=st.lists(st.floats(0, 3 * HOLD), min_size=25, max_size=25),
)
def test_the_messages_do_not_depend_on_batching_or_when_the_clock_is_checked(
    gaps: list[float], severities: list[str], cuts: list[bool], sweeps: list[float]
) -> None:
    times = [T0]
    for gap in gaps[1:]:
        times.append(times[-1] + gap)
    crossings = [Crossing(finding(sev), t) for sev, t in zip(severities, times, strict=False)]

    def messages(batched: bool) -> list[dict[str, Any]]:
        state: AlertState | None = None
        out: list[dict[str, Any]] = []
        batch: list[Crossing] = []
        for index, crossing in enumerate(crossings):
            batch.append(crossing)
            if batched and not cuts[index] and index < len(crossings) - 1:
                continue
            decision = observe(state, batch, "p:0", HOLD, RUNBOOKS)
            state, batch = decision.state or state, []
            out += decision.messages
            # The stream's clock runs on between crossings; a sweep may look at any time
            # before the next crossing.
            assert state is not None
            next_at = crossings[index + 1].at if index + 1 < len(crossings) else None
            now = crossing.at + (sweeps[index] if batched else 0.0)
            if next_at is None or now < next_at:
                swept = expire(state, now)
                state = swept.state or state
                out += swept.messages
        assert state is not None
        out += expire(state, times[-1] + 10 * HOLD).messages
        return out

    assert messages(batched=True) == messages(batched=False)
