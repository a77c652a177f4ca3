"""The live cross-account stage: the worker's second agent, on the linkage topic.

The per-account agent (streams/worker.py) produces a batch's link records to the linkage topic,
one message per source partition (streams/link_messages.py); this agent applies a batch of
them to the graph every worker shares in Redis (streams/linkage_store.py) and sends the
cluster alerts that come due. Workers of one consumer group split the topic's partitions and
still see one graph, so a campaign whose accounts land on different workers is one cluster.

Delivery: a batch is applied once (the graph skips events it has applied: offsets), its
reports go through the alert ledger (streams/alert_ledger.py: firing, updated, resolved on the
linkage stage's clock), its alerts are produced and acknowledged, the ledger confirmed, then
the batch is acked. A crash between the graph update and the ledger loses that report; an
active cluster is reported again `linkage.refresh_seconds` later, naming every member
(docs/linkage.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from detectors.config import DetectionConfig
from detectors.linkage import ClusterReport
from streams.alert_ledger import AlertLedger, LedgerOutcome
from streams.failures import RetryPolicy, retry_or_give_up
from streams.kafka_admin import DLQ_MAX_MESSAGE_BYTES
from streams.link_messages import LinkRecord, decode_records
from streams.linkage_store import RedisLinkage
from streams.metrics import Metrics
from streams.pipeline import LINKAGE_SOURCE, cluster_entries, count_alerts
from streams.topic_messages import send_alert, send_dead_letter

log = logging.getLogger(__name__)
BAD_LINK_RECORD = "bad_link_record"


class LinkageHandler:
    def __init__(
        self,
        linkage: RedisLinkage,
        ledger: AlertLedger,
        config: Callable[[], DetectionConfig],
        alerts_topic: Any,
        dlq_topic: Any,
        metrics: Metrics,
        give_up: Callable[[int], None],
        retry: RetryPolicy | None = None,
        dlq_max_bytes: int = DLQ_MAX_MESSAGE_BYTES,
    ) -> None:
        self.dlq_max_bytes = dlq_max_bytes
        self.linkage = linkage
        self.ledger = ledger
        self.source_clocks: dict[str, float] = {}  # input partition -> newest event time
        self.config = config
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.give_up = give_up
        self.retry = retry or RetryPolicy()

    async def handle(self, messages: Sequence[Any]) -> None:
        started = time.perf_counter()
        config = self.config()
        records: list[LinkRecord] = []
        letters: list[tuple[Any, str]] = []
        for message in messages:
            try:
                records += decode_records(message.value)
            except ValueError as error:
                letters.append((message, str(error)))
        for record in records:
            if record.events:
                newest = max(event.ts for event in record.events)
                known = self.source_clocks.get(record.source, newest)
                self.source_clocks[record.source] = max(known, newest)
        # Cluster incidents resolve on the slowest input partition this agent has seen: a
        # lagging one may still carry a cluster's heartbeat.
        clocks = {LINKAGE_SOURCE: min(self.source_clocks.values())} if records else {}
        reports: list[ClusterReport] | None = None
        attempt = 0
        while True:
            stage = "linkage"
            try:
                if reports is None:  # applied once: a retry only re-sends
                    self.linkage.settings = config.linkage
                    reports = await self.linkage.apply(records)
                stage = "alerts"
                # Again on a retry: the crossings were counted, the outbox is sent again.
                ledger = await self.ledger.process(
                    cluster_entries(reports, config),
                    clocks,
                    config.alerting.runbook_base_url,
                    config.state.max_lag_seconds,
                )
                alerts = [message for _, message in ledger.messages]
                stage = "produce"
                await self._deliver(letters, alerts)
                stage = "confirm"
                await self._confirm(ledger)
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                attempt += 1
                await retry_or_give_up(
                    self.retry, error, attempt, started, stage,
                    f"a batch of {len(messages)} link records",
                    lambda stage, kind: self.metrics.state_errors.labels(stage, kind).inc(),
                    self.give_up,
                )  # fmt: skip
        self.metrics.link_records.labels(outcome="applied").inc(len(records))
        self.metrics.link_records.labels(outcome="dead_letter").inc(len(letters))
        count_alerts(self.metrics, alerts)
        for rule_id, crossings in ledger.suppressed.items():
            self.metrics.alerts_suppressed.labels(rule_id=rule_id).inc(crossings)

    async def _confirm(self, ledger: LedgerOutcome) -> None:
        await self.ledger.store.confirm_alerts(ledger.delivered, ledger.schedules)

    async def _deliver(
        self, letters: Sequence[tuple[Any, str]], alerts: list[dict[str, Any]]
    ) -> None:
        pending = [
            await send_dead_letter(
                self.dlq_topic,
                message.message,
                message.value,
                BAD_LINK_RECORD,
                detail,
                self.dlq_max_bytes,
            )
            for message, detail in letters
        ]
        pending += [await send_alert(self.alerts_topic, alert) for alert in alerts]
        if pending:
            await asyncio.gather(*pending)
