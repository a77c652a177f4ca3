"""The simulator: deterministic, schema-valid, labelled, and each family has the shape its name
promises (issue #3's list). Shapes are checked on the events, not on the generator's code."""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from detectors.decode import decode_event
from streams.cli import main
from streams.sim.attacks import ATTACK_FAMILIES
from streams.sim.scenarios import Simulation, SimulationOrderError, simulate, write_labels
from tests.helpers import ROOT

SCHEMA = json.loads((ROOT / "detectors/schemas/inference-event.v1.schema.json").read_text())
HOURS = 24


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate("all", hours=HOURS, seed=7, benign_accounts=80)


@pytest.fixture(scope="module")
def timed_lines(sim: Simulation) -> list[tuple[float, bytes]]:
    return list(sim.events())


@pytest.fixture(scope="module")
def by_family(
    sim: Simulation, timed_lines: list[tuple[float, bytes]]
) -> dict[str, list[dict[str, Any]]]:
    family_of = {label.account_id: label.family for label in sim.labels}
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, line in timed_lines:
        event = orjson.loads(line)
        grouped[family_of[event["account_id"]]].append(event)
    return grouped


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    first = simulate("reasoning_harvest", hours=3, seed=11, benign_accounts=10)
    again = simulate("reasoning_harvest", hours=3, seed=11, benign_accounts=10)
    other = simulate("reasoning_harvest", hours=3, seed=12, benign_accounts=10)
    assert list(first.events()) == list(again.events()) and first.labels == again.labels
    assert list(first.events()) != list(other.events())


def test_events_are_time_ordered_schema_valid_and_decodable(
    timed_lines: list[tuple[float, bytes]],
) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    times = [ts for ts, _ in timed_lines]
    assert times == sorted(times)
    assert all(orjson.loads(line)["timestamp"] == ts for ts, line in timed_lines[::101])
    for _, line in timed_lines[::97]:  # a spread-out sample: the schema check is slow
        validator.validate(orjson.loads(line))
        decode_event(line)
    ids = Counter(orjson.loads(line)["event_id"] for _, line in timed_lines)
    assert ids.most_common(1)[0][1] == 1


def test_every_account_is_labelled_once_and_ids_do_not_reveal_labels(
    sim: Simulation, timed_lines: list[tuple[float, bytes]], tmp_path: Path
) -> None:
    labelled = [label.account_id for label in sim.labels]
    assert len(labelled) == len(set(labelled))
    seen = {orjson.loads(line)["account_id"] for _, line in timed_lines}
    assert seen <= set(labelled)
    for label in sim.labels:
        assert label.family not in label.account_id and label.label not in label.account_id
    write_labels(sim.labels, str(tmp_path / "labels.csv"))
    with (tmp_path / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"account_id", "label", "family"}
    assert {row["label"] for row in rows} == {"attack", "benign"}
    assert len(rows) == len(sim.labels)


def test_all_families_are_present(by_family: dict[str, list[dict[str, Any]]]) -> None:
    assert set(by_family) >= {
        "chat", "step_by_step_user", "corporate_nat", "coding_agent", "rag_app",
        "translation_pipeline", "eval_harness", "batch_user",
        "self_instruct", "evol_instruct", "reasoning_harvest", "rubric_grading",
        "agentic_coding_harvest", "logit_probe", "model_pivot", "hydra", "low_and_slow",
        "mixed_harvester",
    }  # fmt: skip


def per_account(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["account_id"]].append(event)
    return grouped


def test_chat_is_multi_turn(by_family: dict[str, list[dict[str, Any]]]) -> None:
    follow_ups = [e for e in by_family["chat"] if len(e["request"]["messages"]) > 1]
    assert len(follow_ups) / len(by_family["chat"]) > 0.2
    # Earlier turns carry varied real text, not a placeholder every account would share.
    answers = [m["content"] for e in follow_ups for m in e["request"]["messages"][1::2]]
    assert len(set(answers)) > len(answers) / 20


def test_coding_agents_use_tools_in_long_conversations(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    events = by_family["coding_agent"]
    assert all(e["request"].get("tools", 0) > 0 for e in events)
    roles = Counter(m["role"] for e in events for m in e["request"]["messages"])
    assert roles["tool"] > 0 and roles["assistant"] > 0
    results = {
        m["content"] for e in events for m in e["request"]["messages"] if m["role"] == "tool"
    }
    assert len(results) > 50
    assert statistics.mean(len(e["request"]["messages"]) for e in events) > 5


def test_rag_apps_send_one_system_prompt_for_many_end_users(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for events in per_account(by_family["rag_app"]).values():
        assert len({e["request"]["system"] for e in events}) == 1
        assert len({e["request"]["messages"][-1]["content"] for e in events}) > len(events) / 4


def test_eval_harnesses_score_with_one_token_and_logprobs(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for event in by_family["eval_harness"]:
        request = event["request"]
        assert request["temperature"] == 0 and request["max_tokens"] == 1
        assert request["logprobs"] is True and "seed" in request
        assert not request.get("logit_bias")


def test_corporate_nat_puts_many_accounts_behind_one_ip(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    accounts_per_ip: dict[str, set[str]] = defaultdict(set)
    for event in by_family["corporate_nat"]:
        accounts_per_ip[event["client"]["ip"]].add(event["account_id"])
    assert max(len(accounts) for accounts in accounts_per_ip.values()) >= 5


def test_hydra_is_hundreds_of_low_volume_accounts_on_shared_infrastructure(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    accounts = per_account(by_family["hydra"])
    assert len(accounts) >= 200  # "hundreds of accounts"
    per_day = [len(events) * 24 / HOURS for events in accounts.values()]
    assert 15 <= statistics.median(per_day) <= 45
    payments = {e["client"]["payment_fingerprint"] for e in by_family["hydra"]}
    prefixes = {e["client"]["ip"].rsplit(".", 1)[0] for e in by_family["hydra"]}
    assert len(payments) <= 10 and len(prefixes) <= 10


def test_hydra_accounts_move_together(by_family: dict[str, list[dict[str, Any]]]) -> None:
    # Hundreds of independent accounts at ~30 a day would touch every 10-minute bucket; an
    # orchestrator's job windows leave most buckets empty for all of them at once.
    events = by_family["hydra"]
    buckets = {int(e["timestamp"] // 600) for e in events}
    span = max(buckets) - min(buckets) + 1
    assert len(buckets) / span <= 0.6


def test_logit_probes_send_large_bias_maps_for_one_token(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    probes = [e for e in by_family["logit_probe"] if e["response"]["status"] == 200]
    assert probes
    for event in probes:
        assert len(event["request"]["logit_bias"]) >= 100
        assert event["request"]["max_tokens"] <= 2 and event["request"]["logprobs"] is True


def test_low_and_slow_stays_far_under_per_account_volume(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for events in per_account(by_family["low_and_slow"]).values():
        assert len(events) * 24 / HOURS < 300


def test_model_pivot_moves_traffic_to_a_new_model(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    events = sorted(by_family["model_pivot"], key=lambda e: e["timestamp"])
    early, late = events[: len(events) // 4], events[-len(events) // 4 :]
    early_models = Counter(e["model"] for e in early)
    late_models = Counter(e["model"] for e in late)
    new_models = set(late_models) - set(early_models)
    assert new_models
    assert sum(late_models[m] for m in new_models) / len(late) >= 0.4


def test_a_generator_going_back_in_time_is_refused_not_misordered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def backwards(p: Any, start: float, end: float) -> Any:
        # The second event releases the first (an hour older); the third predates it.
        for ts in (start + 60, start + 2 * 3600, start):
            yield p.event(ts, messages=[], max_tokens=1, input_tokens=1, output_tokens=1)

    monkeypatch.setitem(ATTACK_FAMILIES, "logit_probe", backwards)
    with pytest.raises(SimulationOrderError):
        list(simulate("logit_probe", hours=3, seed=1, benign_accounts=1).events())


def test_simulate_streams_to_a_file_with_its_labels(tmp_path: Path) -> None:
    out, labels = tmp_path / "events.jsonl", tmp_path / "labels.csv"
    args = ["--scenario", "low_and_slow", "--hours", "2", "--accounts", "4", "--seed", "3"]
    assert main(["simulate", *args, "--out", str(out), "--labels", str(labels)]) == 0
    expected = simulate("low_and_slow", hours=2, seed=3, benign_accounts=4)
    assert out.read_bytes().splitlines() == list(expected.lines())
    with labels.open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(expected.labels)
