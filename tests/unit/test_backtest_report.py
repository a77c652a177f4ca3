"""Risk traces and the HTML report, on small replays."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest

from detectors.decode import decode_event
from streams.backtest import LabelsError, backtest_report, load_labels
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.replay import ReplaySummary, replay_file
from streams.report_html import render_report
from streams.risk_trace import RiskTrace
from streams.sim.scenarios import simulate
from tests.helpers import harvest_events, make_event


def test_risk_trace_keeps_each_accounts_peak_per_bucket() -> None:
    trace = RiskTrace(bucket_seconds=60)
    events = [
        decode_event(orjson.dumps(make_event("a", ts)))
        for ts in (600.0, 610.0, 650.0, 700.0, 610.0)
    ]
    events[-1] = decode_event(orjson.dumps(make_event("b", 610.0)))
    trace.add(events, [0.2, 0.5, 0.3, 0.1, 0.9])
    assert trace.timeline["a"] == {10: 0.5, 11: 0.1}
    assert trace.peak == {"a": 0.5, "b": 0.9}
    assert trace.series(["a", "b"]) == [(600, 0.9), (660, 0.1)]


def replay(path: Path) -> ReplaySummary:
    pipeline = DetectionPipeline(load_config(), MemoryWindowStore(), record_risk=True)
    return asyncio.run(replay_file(path, pipeline))


@pytest.fixture(scope="module")
def harvest_replay(tmp_path_factory: pytest.TempPathFactory) -> ReplaySummary:
    sim = simulate("self_instruct", hours=6, seed=2, benign_accounts=30)
    path = tmp_path_factory.mktemp("risk") / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in sim.lines()))
    return replay(path)


def test_accounts_are_alerted_exactly_when_their_risk_reaches_one(
    harvest_replay: ReplaySummary,
) -> None:
    trace = harvest_replay.risk_trace
    assert trace is not None
    alerted = {a for alert in harvest_replay.alerts for a in alert["subject"]["accounts"]}
    assert alerted, "the scenario's harvesters should be alerted"
    assert alerted == {account for account, peak in trace.peak.items() if peak >= 1.0}
    for account in alerted:
        first_alert = harvest_replay.first_alert[account][2]
        first_bucket_at_threshold = min(
            bucket for bucket, risk in trace.timeline[account].items() if risk >= 1.0
        )
        assert int(first_alert // trace.bucket_seconds) == first_bucket_at_threshold


def test_report_without_labels_escapes_account_ids(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in harvest_events(hostile, 250)))
    summary = replay(path)
    assert summary.alerts, "a harvest-shaped account should be alerted"
    html = render_report(
        backtest_report(summary, None),
        summary,
        None,
        source=str(path),
        config=load_config(),
        config_source="config/detectors.yaml",
    )
    assert hostile not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<svg") == 2  # without labels: peak-risk distribution and alert load
    assert "campaign recall" not in html
    assert '<td class="l">min_concentration</td><td class="l">0.35</td>' in html


def test_report_needs_a_replay_that_recorded_risk(harvest_replay: ReplaySummary) -> None:
    bare = ReplaySummary()
    with pytest.raises(ValueError, match="record_risk"):
        render_report(
            backtest_report(bare, None),
            bare,
            None,
            source="x",
            config=load_config(),
            config_source="config/detectors.yaml",
        )


def test_redelivered_events_do_not_count_as_requests_before_the_alert(tmp_path: Path) -> None:
    events = harvest_events("acct_h", 300)
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    once.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    twice.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events for _ in range(2)))
    clean, redelivered = replay(once), replay(twice)
    assert redelivered.duplicates == 300
    for summary in (clean, redelivered):
        requests, tokens, fired_at = summary.first_alert["acct_h"]
        before = [e for e in events if e["timestamp"] <= fired_at]
        assert requests == len(before)  # each event once, however often it was delivered
        assert tokens == sum(e["usage"]["output_tokens"] for e in before)
    assert redelivered.account_totals["acct_h"] == clean.account_totals["acct_h"]


def test_accounts_missing_from_the_labels_are_reported(harvest_replay: ReplaySummary) -> None:
    some = sorted(harvest_replay.accounts)[:5]
    report = backtest_report(harvest_replay, {a: ("benign", "chat") for a in some})
    assert report["unlabelled_accounts"] == len(harvest_replay.accounts) - 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("account,label,family\na,attack,x\n", "header lacks column(s) account_id"),
        ("account_id,label,family\na,attack,x\nb,malicious,y\n", "line 3: label must be"),
        ("account_id,label,family\na,attack,\n", "line 2: account_id and family"),
        ("account_id,label,family\na,attack,x\na,benign,chat\n", "a is labelled twice"),
    ],
)
def test_a_bad_labels_file_is_refused_with_file_line_and_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(LabelsError, match=re.escape(message)) as caught:
        load_labels(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("command", ["replay", "backtest"])
def test_account_ids_and_families_with_markup_are_printed_as_they_are(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Values from events and labels reach the terminal through rich: `[/]` in an account id
    must print as text, not raise a MarkupError (nor style the output)."""
    from streams.cli import main

    hostile = "acct[/]x[bold]"
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in harvest_events(hostile, 250)))
    labels = tmp_path / "labels.csv"
    labels.write_text(f"account_id,label,family\n{hostile},attack,fam[/]ily\n", encoding="utf-8")
    extra = ["--labels", str(labels)] if command == "backtest" else []
    assert main([command, str(path), *extra]) == 0
    printed = capsys.readouterr().out
    assert hostile in printed.replace("\n", "")
    if command == "backtest":
        assert "fam[/]ily" in printed


def test_the_report_shows_each_clusters_growth(tmp_path: Path) -> None:
    """Done-when of issue 9: members named against time, per cluster, first alert marked."""
    from streams.linkage_store import MemoryLinkage

    sim = simulate("hydra", hours=8, seed=3, benign_accounts=20)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in sim.lines()))
    config = load_config()
    pipeline = DetectionPipeline(
        config, MemoryWindowStore(), record_risk=True, linkage=MemoryLinkage(config.linkage)
    )
    summary = asyncio.run(replay_file(path, pipeline))
    clusters = {
        a["subject"]["cluster_id"] for a in summary.alerts if a["subject"]["kind"] == "cluster"
    }
    assert len(clusters) == 2
    labels = {label.account_id: (label.label, label.family) for label in sim.labels}
    html = render_report(
        backtest_report(summary, labels),
        summary,
        labels,
        source=str(path),
        config=config,
        config_source="config/detectors.yaml",
    )
    growth = html[html.index("<h2>Cross-account clusters</h2>") :]
    growth = growth[: growth.index("</figure>")]
    for cluster_id in clusters:
        assert f"{cluster_id} (hydra, attack)" in growth
