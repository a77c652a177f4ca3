"""The alert ledger (streams/alert_ledger.py) on the in-memory store: what comes back after a
crash, and when incidents resolve."""

from __future__ import annotations

from detectors.findings import Finding
from detectors.lifecycle import Crossing
from streams.alert_ledger import AlertLedger, LedgerEntry, LedgerOutcome
from streams.memory_store import MemoryWindowStore

T0 = 1_771_840_800.0
HOLD = 3600
SOURCE = "links:0"


def entry(at: float, account: str = "acct_1") -> LedgerEntry:
    finding = Finding("rule", account, "high", 0.7, "1h", {"requests": 1}, "numbers only")
    return LedgerEntry(f"acct:{account}", "rule", SOURCE, (Crossing(finding, at),), HOLD)


async def process(ledger: AlertLedger, entries: list[LedgerEntry], clock: float) -> LedgerOutcome:
    return await ledger.process(entries, {SOURCE: clock}, "https://rb/", 0)


async def test_messages_saved_and_never_confirmed_come_back_without_their_crossing() -> None:
    """A crash after the save: the batch that comes back may not bring the crossing again
    (the linkage graph skips events it applied): the undelivered message is found anyway."""
    ledger = AlertLedger(MemoryWindowStore())
    first = await process(ledger, [entry(T0)], T0)
    assert [m["transition"] for _, m in first.messages] == ["firing"]
    again = await process(ledger, [], T0 + 1)  # not confirmed: the worker died
    assert [m for _, m in again.messages] == [m for _, m in first.messages]
    await ledger.store.confirm_alerts(again.delivered, again.schedules)
    assert (await process(ledger, [], T0 + 2)).messages == []


async def test_an_incident_crossed_early_in_a_batch_resolves_on_that_batchs_clock() -> None:
    ledger = AlertLedger(MemoryWindowStore())
    outcome = await process(ledger, [entry(T0)], T0 + 2 * HOLD)
    assert [m["transition"] for _, m in outcome.messages] == ["firing", "resolved"]
