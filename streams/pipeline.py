"""The one pipeline every driver runs: decode -> features -> window update -> detect -> alerts.

Framework-free and batch-oriented. The live worker, replay/backtest and the tests all call
`DetectionPipeline.process` with raw message payloads, then deliver what it returns (alerts,
dead letters) and finally call `confirm_sent`. Nothing here reads the wall clock: windows,
cooldowns and alert times are event time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors import volume_harvest
from detectors.alerts import alert_id_for, build_alert
from detectors.config import DetectionConfig
from detectors.decode import decode_event
from detectors.errors import EventDecodeError
from detectors.event import InferenceEvent
from detectors.features import tier_of, window_update
from detectors.findings import SEVERITY_RANK, Finding
from detectors.windows import APPLIED, DUPLICATE, LATE, WindowReading, WindowSpec
from streams.metrics import Metrics
from streams.store import COOLDOWN, AlertClaim, WindowStore, account_tag

SHADOW_SUFFIX = "#shadow"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    index: int  # position of the payload in the batch
    reason: str  # stable code from detectors.decode
    detail: str  # names the field, never its value


@dataclass(slots=True)
class BatchOutcome:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    claims: list[AlertClaim] = field(default_factory=list)  # to confirm once alerts are sent
    dead_letters: list[DeadLetter] = field(default_factory=list)
    events: list[InferenceEvent] = field(default_factory=list)
    readings: list[WindowReading] = field(default_factory=list)
    risks: list[float] = field(default_factory=list)  # per event, when the pipeline records risk
    applied: int = 0
    duplicates: int = 0
    late: int = 0
    shadow_findings: list[Finding] = field(default_factory=list)


def window_specs(config: DetectionConfig) -> tuple[WindowSpec, ...]:
    return tuple(
        WindowSpec(name, w.seconds, w.bucket_seconds) for name, w in config.windows.items()
    )


class DetectionPipeline:
    """Runs batches against a WindowStore. `config` may be a callable for hot reload: each
    batch reads it once, so a batch never sees two configurations.

    With `record_risk`, each event's risk after its update (the highest over the rules, in
    units of their alert thresholds) is returned in `BatchOutcome.risks`: backtests plot it."""

    def __init__(
        self,
        config: DetectionConfig | Callable[[], DetectionConfig],
        store: WindowStore,
        metrics: Metrics | None = None,
        *,
        record_risk: bool = False,
    ) -> None:
        self._config_source = config
        self.store = store
        self.metrics = metrics or Metrics.noop()
        self.record_risk = record_risk

    @property
    def config(self) -> DetectionConfig:
        source = self._config_source
        return source if isinstance(source, DetectionConfig) else source()

    async def process(self, payloads: Sequence[bytes]) -> BatchOutcome:
        config = self.config
        outcome = BatchOutcome()
        for index, raw in enumerate(payloads):
            try:
                outcome.events.append(decode_event(raw, config.max_event_bytes))
            except EventDecodeError as error:
                outcome.dead_letters.append(DeadLetter(index, error.reason, error.detail))
        specs = window_specs(config)
        updates = [window_update(event, config) for event in outcome.events]
        outcome.readings = await self.store.apply(
            updates, specs, config.state.dedupe_horizon_seconds
        )
        findings = self._detect(outcome, config)
        await self._claim(outcome, findings, config)
        self._count(outcome)
        return outcome

    def _detect(
        self, outcome: BatchOutcome, config: DetectionConfig
    ) -> dict[str, tuple[Finding, float]]:
        """First finding per dedup key in the batch. Duplicates are judged too: after a crash
        between the state write and the alert, the redelivered batch must re-derive it."""
        names = config.window_names
        min_rank = SEVERITY_RANK[config.alerting.min_severity]
        findings: dict[str, tuple[Finding, float]] = {}
        risks = outcome.risks if self.record_risk else None
        for event, reading in zip(outcome.events, outcome.readings, strict=True):
            # A rule's risk is a cheap number that reaches 1.0 exactly when the rule fires
            # (each rule's tests hold it to that), so the finding, with its evidence and
            # summary, is only built for the few events at or past the threshold.
            risk = volume_harvest.risk(names, reading.totals, config)
            if risks is not None:
                risks.append(risk)
            if reading.status == APPLIED:
                outcome.applied += 1
            elif reading.status == DUPLICATE:
                outcome.duplicates += 1
            elif reading.status == LATE:
                outcome.late += 1
                continue
            if risk < 1.0:
                continue
            finding = volume_harvest.evaluate(
                event.account_id, tier_of(event), names, reading.totals, config
            )
            if finding is None or finding.dedup_key in findings:
                continue
            if finding.shadow or SEVERITY_RANK[finding.severity] >= min_rank:
                findings[finding.dedup_key] = (finding, round(event.timestamp, 6))
        return findings

    async def _claim(
        self,
        outcome: BatchOutcome,
        findings: dict[str, tuple[Finding, float]],
        config: DetectionConfig,
    ) -> None:
        if not findings:
            return
        claims = [
            AlertClaim(
                account_tag(f.account_id),
                f.rule_id,
                alert_id_for(f.dedup_key, ts),
                ts,
                config.alerting.cooldown_seconds,
            )
            for f, ts in findings.values()
        ]
        results = await self.store.claim_alerts(claims)
        for (finding, _), claim, result in zip(findings.values(), claims, results, strict=True):
            if result.outcome == COOLDOWN or result.fired_at is None or result.alert_id is None:
                continue
            outcome.claims.append(
                AlertClaim(
                    claim.key_tag,
                    claim.rule_id,
                    result.alert_id,
                    result.fired_at,
                    claim.cooldown_seconds,
                )
            )
            if finding.shadow:
                outcome.shadow_findings.append(finding)
                continue
            # GRANTED: this finding's alert. PENDING: an earlier claim never confirmed as sent;
            # re-emit it under its own alert_id and time so sinks deduplicate the retry.
            alert = build_alert(finding, result.fired_at, config.alerting.runbook_base_url)
            alert["alert_id"] = result.alert_id
            outcome.alerts.append(alert)

    def _count(self, outcome: BatchOutcome) -> None:
        m = self.metrics
        m.events.labels(outcome="applied").inc(outcome.applied)
        m.events.labels(outcome="duplicate").inc(outcome.duplicates)
        m.events.labels(outcome="late").inc(outcome.late)
        m.events.labels(outcome="dead_letter").inc(len(outcome.dead_letters))
        for letter in outcome.dead_letters:
            m.dead_letters.labels(reason=letter.reason).inc()
        for finding in outcome.shadow_findings:
            m.shadow_findings.labels(rule_id=finding.rule_id).inc()

    async def confirm_sent(self, outcome: BatchOutcome) -> None:
        """Call after every alert of the batch reached its sinks."""
        await self.store.confirm_sent(outcome.claims)
        for alert in outcome.alerts:
            self.metrics.alerts.labels(rule_id=alert["rule_id"], severity=alert["severity"]).inc()
