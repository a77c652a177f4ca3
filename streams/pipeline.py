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
from typing import Any

from detectors.config import DetectionConfig
from detectors.contract import AccountView
from detectors.decode import BAD_TIMESTAMP, decode_event
from detectors.errors import EventDecodeError
from detectors.event import InferenceEvent
from detectors.features import EventFeatures, tier_of
from detectors.findings import SEVERITY_RANK, Finding
from detectors.lifecycle import Crossing
from detectors.linkage import ClusterReport, cluster_finding
from detectors.ruleset import BoundRule, BoundRuleSet
from detectors.stream_clock import StreamClock
from detectors.windows import APPLIED, DUPLICATE
from streams.alert_ledger import AlertLedger, LedgerEntry, LedgerOutcome
from streams.link_records import by_account, link_events, one_per_event
from streams.linkage_store import LinkageStore
from streams.metrics import Metrics
from streams.outcome import BatchOutcome, DeadLetter, ShadowHit
from streams.store import REGISTRY_START, WindowStore, account_tag, cluster_tag
from streams.updates import NO_SOURCE, Source, UpdateBuilder

log = logging.getLogger(__name__)
SHADOW_SUFFIX = "#shadow"
LINKAGE_SOURCE = "linkage"  # the clock that resolves cluster incidents: the linkage stage's
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
        linkage: LinkageStore | None = None,
        emit_links: bool = False,
    ) -> None:
        self._config_source = config
        # Cross-account clusters (streams/linkage_store.py): embedded, applied here event by
        # event (`linkage`), or, live, handed to the worker as one record per account
        # (`emit_links`: BatchOutcome.link_records) for the linkage topic.
        self.linkage = linkage
        self.emit_links = emit_links
        self.store = store
        self.ledger = AlertLedger(store)
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
        event_sources = (
            [NO_SOURCE] * len(outcome.events)
            if sources is None
            else [sources[index] for index in outcome.event_indexes]
        )
        features: list[EventFeatures] = []
        if self.linkage is None and not self.emit_links:
            updates = [
                build(event, new(event), source)
                for event, source in zip(outcome.events, event_sources, strict=True)
            ]
        else:
            updates = []
            for event, source in zip(outcome.events, event_sources, strict=True):
                update, event_features = build.with_features(event, new(event), source)
                updates.append(update)
                features.append(event_features)
        state = config.state
        outcome.readings = await self.store.apply(
            updates,
            bound.layout,
            state.dedupe_horizon_seconds,
            state.max_lag_seconds,
            state.resend_horizon_seconds,
        )
        outcome.layout = bound.layout  # confirm_sent reports these accounts judged in it
        crossings = self._detect(outcome, config)
        entries = [*self._account_entries(outcome, crossings, config)]
        if self.linkage is not None or self.emit_links:
            linked = link_events(
                outcome.events, outcome.readings, features, event_sources, bound.layout
            )
            if self.emit_links:
                outcome.link_records = by_account(linked)
            if self.linkage is not None:
                reports = await self.linkage.apply(one_per_event(linked))
                entries += cluster_entries(reports, config)
        clocks: dict[str, float] = {}
        for stream, event in zip(outcome.event_sources, outcome.events, strict=True):
            clocks[stream] = max(clocks.get(stream, event.timestamp), event.timestamp)
        if self.linkage is not None and clocks:
            clocks[LINKAGE_SOURCE] = min(clocks.values())  # the slowest partition's
        ledger = await self.ledger.process(
            entries,
            clocks,
            config.alerting.runbook_base_url,
            state.max_lag_seconds,
        )
        take_messages(outcome, ledger)
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
    ) -> dict[tuple[str, str], list[tuple[Finding, float]]]:
        """Every crossing of the batch, by (subject, rule) in event order. Redelivered events
        are not judged again: they were judged when first counted, and what that left
        undelivered the ledger finds by itself (streams/alert_ledger.py).

        A rule's risk is a cheap number that reaches 1.0 exactly when the rule fires (the
        contract suite holds every detector to that), so a finding, with its evidence and
        summary, is only built for the few events at or past a threshold. A detector that
        raises is skipped for the rest of the batch and counted; the others keep running."""
        layout = config.bound.layout
        outcome.rule_ids = tuple(r.rule.id for r in config.bound.rules)
        self._failed: set[int] = set()
        # Rules judge an account at points that depend on its own events only, never on where a
        # batch starts (a crash, a rebalance or consumer lag moves batch boundaries, and the
        # same stream must give the same alerts): after each of its events while it is light
        # (at most JUDGE_EVERY requests in the shortest window), then after every JUDGE_EVERY-th
        # request counted in the longest window.
        windows = layout.windows
        shortest = min(range(len(windows)), key=lambda w: windows[w][1])
        longest = max(range(len(windows)), key=lambda w: windows[w][1])
        requests = layout.sum_index("requests")
        judged: list[int] = []
        for index, reading in enumerate(outcome.readings):
            if reading.status == APPLIED:
                outcome.applied += 1
                totals = reading.totals
                if (
                    totals[shortest][requests] <= JUDGE_EVERY
                    or totals[longest][requests] % JUDGE_EVERY == 0
                ):
                    judged.append(index)
            elif reading.status == DUPLICATE:
                outcome.duplicates += 1
            else:
                outcome.late += 1
        crossings: dict[tuple[str, str], list[tuple[Finding, float]]] = {}
        self._judge(outcome, judged, crossings, config, record=self.record_risk)
        return crossings

    def _judge(
        self,
        outcome: BatchOutcome,
        positions: Sequence[int],
        crossings: dict[tuple[str, str], list[tuple[Finding, float]]],
        config: DetectionConfig,
        *,
        record: bool,
    ) -> None:
        """Run the rules at these events; each finding goes to `crossings` under its subject
        and its ledger rule (a shadow rule keeps its own ledger: promoting it to alert must
        not find its subjects' incidents open from when it was only watching)."""
        bound = config.bound
        layout = bound.layout
        rules = bound.rules
        alerting = tuple(r.rule.mode == "alert" for r in rules)
        min_rank = SEVERITY_RANK[config.alerting.min_severity]
        failed = self._failed
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
                elif finding.shadow or SEVERITY_RANK[finding.severity] >= min_rank:
                    rule_key = (
                        finding.rule_id + SHADOW_SUFFIX if finding.shadow else finding.rule_id
                    )
                    crossings.setdefault((finding.account_id, rule_key), []).append(
                        (finding, round(event.timestamp, 6))
                    )
            if record:
                outcome.risk_events.append(event)
                outcome.rule_risks.append(tuple(risks))
                outcome.risks.append(
                    max((r for r, a in zip(risks, alerting, strict=True) if a), default=0.0)
                )

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

    @staticmethod
    def _account_entries(
        outcome: BatchOutcome,
        crossings: dict[tuple[str, str], list[tuple[Finding, float]]],
        config: DetectionConfig,
    ) -> list[LedgerEntry]:
        """One ledger entry per (account, rule) that crossed; an account's incidents resolve on
        the clock of the partition its events come from, once the hold-down and the window
        their evidence covers have passed without a crossing."""
        if not crossings:
            return []
        source_of = {
            event.account_id: source
            for event, source in zip(outcome.events, outcome.event_sources, strict=True)
        }
        entries = []
        for (account_id, rule_key), found in crossings.items():
            found.sort(key=lambda item: item[1])
            entries.append(
                LedgerEntry(
                    account_tag(account_id),
                    rule_key,
                    source_of.get(account_id, ""),
                    tuple(Crossing(finding, at) for finding, at in found),
                    max(hold_down_of(finding, config) for finding, _ in found),
                )
            )
        return entries

    def count(self, outcome: BatchOutcome) -> None:
        """Add a batch's outcome to the metrics (once per batch)."""
        m = self.metrics
        m.events.labels(outcome="applied").inc(outcome.applied)
        m.events.labels(outcome="duplicate").inc(outcome.duplicates)
        m.events.labels(outcome="late").inc(outcome.late)
        m.events.labels(outcome="dead_letter").inc(len(outcome.dead_letters))
        for letter in outcome.dead_letters:
            m.dead_letters.labels(reason=letter.reason).inc()
        for hit in outcome.shadow_findings:
            m.shadow_findings.labels(rule_id=hit.rule_id).inc()
        for rule_id in outcome.detector_errors:
            m.detector_errors.labels(rule_id=rule_id).inc()
        for rule_id, crossings in outcome.suppressed.items():
            m.alerts_suppressed.labels(rule_id=rule_id).inc(crossings)

    async def confirm_sent(self, outcome: BatchOutcome) -> None:
        """Call after every alert and link record of the batch reached its sinks. Until then
        the store keeps the state the batch started from and the ledger its messages: a crash
        before this point, and the batch comes back judged as the first time, with the same
        alerts and link records (streams/store.py, streams/alert_ledger.py)."""
        await self.store.confirm_alerts(outcome.alerts_delivered, outcome.alert_schedules)
        if outcome.layout is not None:
            await self.store.judged(outcome.applied_accounts(), outcome.layout)
        stamps: dict[str, list[float]] = {}
        for source, event in zip(outcome.event_sources, outcome.events, strict=True):
            stamps.setdefault(source, []).append(event.timestamp)
        for source, times in stamps.items():
            self.clocks.setdefault(source, StreamClock()).commit(times)
        count_alerts(self.metrics, outcome.alerts)


def hold_down_of(finding: Finding, config: DetectionConfig) -> float:
    """`alerting.hold_down_seconds`, or the window the finding's evidence covers if longer: a
    rule that judges days of sparse requests must not resolve between two of them."""
    window = config.windows.get(finding.window)
    hold = config.alerting.hold_down_seconds
    return float(max(hold, window.seconds if window is not None else 0))


def count_alerts(metrics: Metrics, alerts: Sequence[dict[str, Any]]) -> None:
    for alert in alerts:
        metrics.alerts.labels(
            rule_id=alert["rule_id"],
            severity=alert["severity"],
            transition=alert.get("transition", alert["status"]),
        ).inc()


def take_messages(outcome: BatchOutcome, ledger: LedgerOutcome) -> None:
    """The ledger's messages into the outcome: alerts, and shadow rules' firings (counted,
    never sent); what to confirm once they are delivered."""
    for rule_key, message in ledger.messages:
        if not rule_key.endswith(SHADOW_SUFFIX):
            outcome.alerts.append(message)
        elif message["transition"] == "firing":
            outcome.shadow_findings.append(
                ShadowHit(message["rule_id"], message["subject"]["accounts"][0])
            )
    outcome.alerts_delivered += ledger.delivered
    outcome.alert_schedules += ledger.schedules
    outcome.suppressed.update(
        {rule: n for rule, n in ledger.suppressed.items() if not rule.endswith(SHADOW_SUFFIX)}
    )


def cluster_entries(reports: Sequence[ClusterReport], config: DetectionConfig) -> list[LedgerEntry]:
    """The ledger entries of cluster reports at or above the minimum severity: a cluster's
    first report fires, a later one that names more accounts (or rises in severity) updates
    the incident, any other refreshes it; it resolves on the linkage stage's clock."""
    min_rank = SEVERITY_RANK[config.alerting.min_severity]
    entries = []
    for report in reports:
        finding = cluster_finding(report, config.linkage)
        if SEVERITY_RANK[finding.severity] >= min_rank and finding.cluster_id is not None:
            entries.append(
                LedgerEntry(
                    cluster_tag(finding.cluster_id),
                    finding.rule_id,
                    LINKAGE_SOURCE,
                    (Crossing(finding, round(report.at, 6)),),
                    float(config.alerting.hold_down_seconds),
                )
            )
    return entries
