"""The one pipeline every driver runs: decode -> features -> window update -> detect -> alerts.

Framework-free and batch-oriented. The live worker, replay/backtest and the tests all call
`DetectionPipeline.process` with raw message payloads, then deliver what it returns (alerts,
dead letters) and finally call `confirm_sent`. Nothing here reads the wall clock: windows,
cooldowns and alert times are event time; only the live worker hands it a wall clock, to
refuse events stamped in the future (detectors/stream_clock.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from detectors.alerts import alert_id_for, build_alert
from detectors.config import DetectionConfig
from detectors.contract import AccountView
from detectors.decode import BAD_TIMESTAMP, decode_event
from detectors.errors import EventDecodeError
from detectors.event import InferenceEvent
from detectors.features import tier_of
from detectors.findings import SEVERITY_RANK, Finding
from detectors.ruleset import BoundRule, BoundRuleSet
from detectors.stream_clock import StreamClock
from detectors.windows import APPLIED, DUPLICATE
from streams.metrics import Metrics
from streams.outcome import BatchOutcome, DeadLetter
from streams.store import COOLDOWN, REGISTRY_START, AlertClaim, WindowStore, account_tag
from streams.updates import Source, UpdateBuilder

log = logging.getLogger(__name__)
SHADOW_SUFFIX = "#shadow"
JUDGE_EVERY = 10  # an account's rules are judged at least every this many of its events


class DetectionPipeline:
    """Runs batches against a WindowStore. `config` may be a callable for hot reload: each
    batch reads it once, so a batch never sees two configurations.

    With `record_risk`, each event's risk after its update (the highest over the alerting
    rules, in units of their thresholds) is returned in `BatchOutcome.risks`, and every rule's
    risk in `BatchOutcome.rule_risks`: backtests plot them and show which signals carried."""

    def __init__(
        self,
        config: DetectionConfig | Callable[[], DetectionConfig],
        store: WindowStore,
        metrics: Metrics | None = None,
        *,
        record_risk: bool = False,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self._config_source = config
        self.store = store
        self.metrics = metrics or Metrics.noop()
        self.record_risk = record_risk
        self.wall_clock = wall_clock  # live workers bound event time by it; replays do not
        # One clock per source partition: a lagging partition's backlog must not make the
        # others' current events look ahead ("" for events without a source).
        self.clocks: dict[str, StreamClock] = {}
        self._builder: tuple[BoundRuleSet, UpdateBuilder] | None = None

    def _update_builder(self, bound: BoundRuleSet) -> UpdateBuilder:
        if self._builder is None or self._builder[0] is not bound:
            self._builder = (bound, UpdateBuilder(bound))
        return self._builder[1]

    @property
    def config(self) -> DetectionConfig:
        source = self._config_source
        return source if isinstance(source, DetectionConfig) else source()

    async def process(
        self,
        payloads: Sequence[bytes],
        sources: Sequence[Source] | None = None,
        now: float | None = None,
        count: bool = True,
    ) -> BatchOutcome:
        """`sources`: where each payload was read, ("topic:partition", offset), when it came
        from Kafka: the store then recognises a redelivery by its offset, at any distance.
        `count`: add the outcome to the metrics now; a driver that may retry the batch passes
        False and calls `count()` once it is delivered.
        `now`: the wall clock when the batch was taken; a driver that retries a batch passes
        the same value, so each attempt refuses the same events (default: `wall_clock()`)."""
        config = self.config
        outcome = BatchOutcome()
        decoded: list[tuple[int, InferenceEvent]] = []
        for index, raw in enumerate(payloads):
            try:
                decoded.append((index, decode_event(raw, config.max_event_bytes)))
            except EventDecodeError as error:
                outcome.dead_letters.append(DeadLetter(index, error.reason, error.detail))
        if now is None and self.wall_clock is not None:
            now = self.wall_clock()
        self._admit(decoded, outcome, config.state.max_future_skew_seconds, sources, now)
        bound = config.bound
        build = self._update_builder(bound)
        new = await self._new_models(outcome.events, config)
        if sources is None:
            updates = [build(event, new(event)) for event in outcome.events]
        else:
            updates = [
                build(event, new(event), sources[index])
                for index, event in zip(outcome.event_indexes, outcome.events, strict=True)
            ]
        state = config.state
        outcome.readings = await self.store.apply(
            updates,
            bound.layout,
            state.dedupe_horizon_seconds,
            state.max_lag_seconds,
            state.resend_horizon_seconds,
        )
        findings = self._detect(outcome, config)
        await self._claim(outcome, findings, config)
        if count:
            self.count(outcome)
        return outcome

    def _admit(
        self,
        decoded: list[tuple[int, InferenceEvent]],
        outcome: BatchOutcome,
        skew: float,
        sources: Sequence[Source] | None,
        now: float | None,
    ) -> None:
        """Events beyond their partition clock's limit become dead letters
        (detectors/stream_clock.py); the others go on, in their order."""
        by_source: dict[str, list[tuple[int, InferenceEvent]]] = {}
        for item in decoded:
            by_source.setdefault(sources[item[0]][0] if sources else "", []).append(item)
        admitted: set[int] = set()
        for source, items in by_source.items():
            clock = self.clocks.setdefault(source, StreamClock())
            verdicts = clock.admit([event.timestamp for _, event in items], skew, now)
            admitted.update(index for (index, _), ok in zip(items, verdicts, strict=True) if ok)
        for index, event in decoded:
            if index in admitted:
                outcome.events.append(event)
                outcome.event_indexes.append(index)
                outcome.event_sources.append(sources[index][0] if sources else "")
            else:
                by_wall = now is not None and event.timestamp > now + skew
                detail = f"timestamp is more than {skew:g} s ahead of " + (
                    "the wall clock" if by_wall else "its partition's stream"
                )
                outcome.dead_letters.append(DeadLetter(index, BAD_TIMESTAMP, detail))
        outcome.dead_letters.sort(key=lambda letter: letter.index)

    async def _new_models(
        self, events: Sequence[InferenceEvent], config: DetectionConfig
    ) -> Callable[[InferenceEvent], bool]:
        """Note each model's first sighting in the shared registry (one round trip per batch)
        and tell, per event, whether it asks for a newly released model."""
        seen: dict[str, float] = {}
        for event in events:
            if event.timestamp < seen.get(event.model, float("inf")):
                seen[event.model] = event.timestamp
        first = await self.store.note_models(seen) if seen else {}
        start = first.get(REGISTRY_START, 0.0)
        warmup = config.models.warmup_hours * 3600
        fresh_for = config.models.new_for_hours * 3600
        released = {m: t for m, t in first.items() if m != REGISTRY_START and t - start >= warmup}

        def is_new(event: InferenceEvent) -> bool:
            at = released.get(event.model)
            return at is not None and event.timestamp - at <= fresh_for

        return is_new

    def _detect(
        self, outcome: BatchOutcome, config: DetectionConfig
    ) -> dict[str, tuple[Finding, float]]:
        """First finding per dedup key in the batch. Duplicates are judged too: after a crash
        between the state write and the alert, the redelivered batch must re-derive it.

        A rule's risk is a cheap number that reaches 1.0 exactly when the rule fires (the
        contract suite holds every detector to that), so a finding, with its evidence and
        summary, is only built for the few events at or past a threshold. A detector that
        raises is skipped for the rest of the batch and counted; the others keep running."""
        bound = config.bound
        layout = bound.layout
        rules = bound.rules
        alerting = tuple(r.rule.mode == "alert" for r in rules)
        outcome.rule_ids = tuple(r.rule.id for r in rules)
        min_rank = SEVERITY_RANK[config.alerting.min_severity]
        findings: dict[str, tuple[Finding, float]] = {}
        failed: set[int] = set()
        record = self.record_risk
        # Rules judge each account on its state after its last counted event in the batch,
        # and after every JUDGE_EVERY-th one: the decision of judging every event unless a
        # signal crossed and fell back within a few events, at a fraction of the cost for busy
        # accounts, and never more than JUDGE_EVERY requests late.
        last: dict[str, int] = {}
        judged: list[int] = []
        seen: dict[str, int] = {}
        for index, (event, reading) in enumerate(
            zip(outcome.events, outcome.readings, strict=True)
        ):
            if reading.status == APPLIED:
                outcome.applied += 1
            elif reading.status == DUPLICATE:
                outcome.duplicates += 1
            else:
                outcome.late += 1
                continue
            account = event.account_id
            last[account] = index
            if reading.status == APPLIED:  # a redelivery does not bring a judgement forward
                count = seen[account] = seen.get(account, 0) + 1
                if count % JUDGE_EVERY == 0:
                    judged.append(index)
        positions = sorted(set(judged).union(last.values()))
        for position in positions:
            event, reading = outcome.events[position], outcome.readings[position]
            view = AccountView(event.account_id, tier_of(event), reading.totals, layout)
            risks = [0.0] * len(rules)
            for index, bound_rule in enumerate(rules):
                if index in failed:
                    continue
                try:
                    risk = risks[index] = bound_rule.detector.risk(view)
                    if risk < 1.0:
                        continue
                    finding = self._finding(bound_rule, view, event, risk, config)
                except Exception:
                    failed.add(index)
                    outcome.detector_errors.append(bound_rule.rule.id)
                    log.exception("rule %s raised; skipped for this batch", bound_rule.rule.id)
                    continue
                if finding is None:
                    outcome.excepted += 1
                elif finding.dedup_key not in findings and (
                    finding.shadow or SEVERITY_RANK[finding.severity] >= min_rank
                ):
                    findings[finding.dedup_key] = (finding, round(event.timestamp, 6))
            if record:
                outcome.risk_events.append(event)
                outcome.rule_risks.append(tuple(risks))
                outcome.risks.append(
                    max((r for r, a in zip(risks, alerting, strict=True) if a), default=0.0)
                )
        return findings

    @staticmethod
    def _finding(
        bound_rule: BoundRule,
        view: AccountView,
        event: InferenceEvent,
        risk: float,
        config: DetectionConfig,
    ) -> Finding | None:
        rule = bound_rule.rule
        if rule.excepted(event.account_id, event.org_id, event.timestamp):
            return None
        explanation = bound_rule.detector.explain(view)
        severity: str = rule.severity
        if explanation.severity and SEVERITY_RANK[explanation.severity] > SEVERITY_RANK[severity]:
            severity = explanation.severity
        return Finding(
            rule_id=rule.id,
            account_id=event.account_id,
            severity=severity,
            score=round(min(1.0, 0.5 * risk), 3),
            window=explanation.window,
            evidence=explanation.evidence,
            summary=f"Account {event.account_id}: {explanation.summary}",
            tags=rule.tags,
            shadow=rule.mode == "shadow",
            runbook_url=rule.runbook,
        )

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
                # Shadow findings keep their own ledger: promoting a rule to alert must not find
                # its accounts already "in cooldown" from when it was only watching.
                f.rule_id + SHADOW_SUFFIX if f.shadow else f.rule_id,
                alert_id_for(f.dedup_key, ts),
                ts,
                config.alerting.cooldown_seconds,
            )
            for f, ts in findings.values()
        ]
        results = await self.store.claim_alerts(claims, config.state.max_lag_seconds)
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

    def count(self, outcome: BatchOutcome) -> None:
        """Add a batch's outcome to the metrics (once per batch)."""
        m = self.metrics
        m.events.labels(outcome="applied").inc(outcome.applied)
        m.events.labels(outcome="duplicate").inc(outcome.duplicates)
        m.events.labels(outcome="late").inc(outcome.late)
        m.events.labels(outcome="dead_letter").inc(len(outcome.dead_letters))
        for letter in outcome.dead_letters:
            m.dead_letters.labels(reason=letter.reason).inc()
        for finding in outcome.shadow_findings:
            m.shadow_findings.labels(rule_id=finding.rule_id).inc()
        for rule_id in outcome.detector_errors:
            m.detector_errors.labels(rule_id=rule_id).inc()

    async def confirm_sent(self, outcome: BatchOutcome) -> None:
        """Call after every alert of the batch reached its sinks."""
        await self.store.confirm_sent(outcome.claims)
        stamps: dict[str, list[float]] = {}
        for source, event in zip(outcome.event_sources, outcome.events, strict=True):
            stamps.setdefault(source, []).append(event.timestamp)
        for source, times in stamps.items():
            self.clocks.setdefault(source, StreamClock()).commit(times)
        for alert in outcome.alerts:
            self.metrics.alerts.labels(rule_id=alert["rule_id"], severity=alert["severity"]).inc()
