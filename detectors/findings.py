"""What a detector returns: a finding, before cooldown and alert formatting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES: tuple[str, ...] = ("info", "warning", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str  # stable rule id, e.g. "volume_harvest"
    account_id: str
    severity: str  # one of SEVERITIES
    score: float  # 0..1 risk score
    window: str  # the window the evidence covers
    evidence: dict[str, Any]  # numbers and thresholds only, never prompt text
    summary: str  # one sentence for on-call
    tags: tuple[str, ...] = ()
    shadow: bool = False  # evaluated and counted, not emitted
    runbook_url: str | None = None  # the rule's own runbook; default: base URL + rule id
    # A cluster finding names its cluster and every member found so far (account_id: the
    # member it was first named after).
    cluster_id: str | None = None
    accounts: tuple[str, ...] = ()

    @property
    def dedup_key(self) -> str:
        if self.cluster_id is not None:
            return f"{self.rule_id}:cluster:{self.cluster_id}"
        return f"{self.rule_id}:account:{self.account_id}"
