"""Build alert schema v1 (contracts.md §2) from a finding, on event time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from detectors.findings import Finding

ALERT_SCHEMA_VERSION = 1
# alert_id is a name-based UUID of (dedup_key, fired_at): a redelivered batch that re-derives
# the same finding produces the same alert_id, so sinks deduplicate the retry.
_ALERT_NAMESPACE = uuid.UUID("5b0f6a52-2a39-4c56-9b8e-7f0e7d8f1c11")


def rfc3339(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def alert_id_for(dedup_key: str, fired_at: float, sequence: int = 1) -> str:
    """The id of an incident's message: its first keeps the id alerts always had (the
    incident's key and start); later ones (an update, the resolution) add their sequence."""
    if sequence == 1:
        return str(uuid.uuid5(_ALERT_NAMESPACE, f"{dedup_key}|{fired_at:.6f}"))
    return str(uuid.uuid5(_ALERT_NAMESPACE, f"{dedup_key}|{fired_at:.6f}|{sequence}"))


def build_alert(
    finding: Finding, fired_at: float, runbook_base_url: str, status: str = "firing"
) -> dict[str, Any]:
    base = runbook_base_url if runbook_base_url.endswith("/") else runbook_base_url + "/"
    return {
        "schema_version": ALERT_SCHEMA_VERSION,
        "alert_id": alert_id_for(finding.dedup_key, fired_at),
        "dedup_key": finding.dedup_key,
        "rule_id": finding.rule_id,
        "status": status,
        "severity": finding.severity,
        "score": finding.score,
        "subject": (
            {
                "kind": "cluster",
                "cluster_id": finding.cluster_id,
                "accounts": list(finding.accounts),
            }
            if finding.cluster_id is not None
            else {
                "kind": "account",
                "account_id": finding.account_id,
                "accounts": [finding.account_id],
            }
        ),
        "fired_at": rfc3339(fired_at),
        "window": finding.window,
        "evidence": finding.evidence,
        "summary": finding.summary,
        "tags": list(finding.tags),
        "runbook_url": finding.runbook_url or f"{base}{finding.rule_id}",
    }


def transition_of(alert: dict[str, Any]) -> str:
    """`firing`, `updated` or `resolved` (detectors/lifecycle.py); an alert written before the
    lifecycle is its status."""
    transition: str = alert.get("transition") or alert["status"]
    return transition


def changed_at(alert: dict[str, Any]) -> float:
    """Event time of the alert's state change: `changed_at`, or `fired_at` before the
    lifecycle."""
    return datetime.fromisoformat(alert.get("changed_at") or alert["fired_at"]).timestamp()
