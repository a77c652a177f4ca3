"""The simulator: deterministic, schema-valid, labelled, and each family has the shape its name
promises (issue #3's list). Shapes are checked on the events, not on the generator's code."""

from __future__ import annotations

import csv
import itertools
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
from streams.sim.campaigns import STEALTH_TEAMS
from streams.sim.families import ATTACK_FAMILIES
from streams.sim.scenarios import (
    BENIGN_MIX,
    Simulation,
    SimulationOrderError,
    simulate,
    write_labels,
)
from streams.sim.templates import RATIONALE_FRAMES, STEP_MARKERS
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


@pytest.fixture(scope="module")
def by_campaign(
    sim: Simulation, timed_lines: list[tuple[float, bytes]]
) -> dict[str, list[dict[str, Any]]]:
    campaign_of = sim.campaigns()
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, line in timed_lines:
        event = orjson.loads(line)
        if event["account_id"] in campaign_of:
            grouped[campaign_of[event["account_id"]]].append(event)
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
        "translation_pipeline", "eval_harness", "batch_user", "bulk_api_customer",
        "support_bot", "benchmark_researchers", "synthetic_data_user", "agent_platform",
        "tutoring_app",
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
    by_family: dict[str, list[dict[str, Any]]], by_campaign: dict[str, list[dict[str, Any]]]
) -> None:
    accounts = per_account(by_family["hydra"])
    assert len(accounts) >= 200  # "hundreds of accounts"
    per_day = [len(events) * 24 / HOURS for events in accounts.values()]
    assert 15 <= statistics.median(per_day) <= 40  # public report: ~26 a day
    campaigns = [name for name in by_campaign if name.startswith("hydra/")]
    assert len(campaigns) >= 2
    for name in campaigns:
        events = by_campaign[name]
        assert len(per_account(events)) >= 100
        payments = {e["client"]["payment_fingerprint"] for e in events}
        prefixes = {e["client"]["ip"].rsplit(".", 1)[0] for e in events}
        assert len(payments) <= 5 and len(prefixes) <= 3


def test_hydra_accounts_move_together(by_campaign: dict[str, list[dict[str, Any]]]) -> None:
    # A hundred independent accounts at ~26 a day would touch every 10-minute bucket; an
    # orchestrator's job windows leave most buckets empty for all of them at once.
    for name in (n for n in by_campaign if n.startswith("hydra/")):
        buckets = {int(e["timestamp"] // 600) for e in by_campaign[name]}
        span = max(buckets) - min(buckets) + 1
        assert len(buckets) / span <= 0.6, name


def test_logit_probes_send_large_bias_maps_for_one_token(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    probes = [e for e in by_family["logit_probe"] if e["response"]["status"] == 200]
    assert probes
    for event in probes:
        assert len(event["request"]["logit_bias"]) >= 100
        assert event["request"]["max_tokens"] <= 2 and event["request"]["logprobs"] is True


def test_low_and_slow_sends_tens_a_day(by_family: dict[str, list[dict[str, Any]]]) -> None:
    accounts = per_account(by_family["low_and_slow"])
    assert len(accounts) >= 4
    for events in accounts.values():
        assert 12 <= len(events) * 24 / HOURS <= 90


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


HARVEST_FAMILIES = (
    "self_instruct", "evol_instruct", "reasoning_harvest", "rubric_grading",
    "agentic_coding_harvest", "model_pivot", "hydra", "low_and_slow",
)  # fmt: skip
DEDICATED = (
    "self_instruct", "evol_instruct", "reasoning_harvest", "rubric_grading",
    "agentic_coding_harvest", "model_pivot",
)  # fmt: skip


def answered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["response"]["status"] == 200]


def length_share(events: list[dict[str, Any]]) -> float:
    done = answered(events)
    cut = sum(1 for e in done if e["response"]["finish_reason"] == "length")
    return cut / max(1, len(done))


def user_text(event: dict[str, Any]) -> str:
    return str(event["request"]["messages"][-1]["content"])


def sampling_tuple(event: dict[str, Any]) -> tuple[Any, ...]:
    request = event["request"]
    return tuple(request.get(k) for k in ("temperature", "top_p", "max_tokens", "seed", "n"))


def skeleton(events: list[dict[str, Any]], share: float = 0.15) -> set[tuple[str, ...]]:
    """Word 5-grams present in at least `share` of the prompts (system prompt included): the
    template's fixed text."""
    counts: Counter[tuple[str, ...]] = Counter()
    for event in events:
        words = f"{event['request'].get('system') or ''} {user_text(event)}".split()
        counts.update({tuple(words[i : i + 5]) for i in range(len(words) - 4)})
    return {gram for gram, n in counts.items() if n >= share * len(events)}


def test_harvest_is_single_turn_with_generous_budgets_and_complete_outputs(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for family in HARVEST_FAMILIES:
        events = answered(by_family[family])
        assert all(len(e["request"]["messages"]) == 1 for e in events), family
        assert all(e["request"]["max_tokens"] >= 2048 for e in events), family
        # Pipelines want complete answers: > 90% finish with stop (or a tool call).
        assert length_share(events) < 0.08, family
    reasoning = statistics.median(
        e["usage"]["output_tokens"] for e in by_family["reasoning_harvest"]
    )
    rubric = statistics.median(e["usage"]["output_tokens"] for e in by_family["rubric_grading"])
    assert reasoning > 2 * rubric  # reasoning traces are long, ratings short


def test_legitimate_bulk_users_are_the_ones_that_run_into_max_tokens(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    bulk = by_family["bulk_api_customer"]
    assert all(len(e["request"]["messages"]) == 1 for e in bulk)
    assert all(e["request"]["max_tokens"] <= 512 for e in bulk)
    assert length_share(bulk) > 0.2
    assert length_share(bulk) > 3 * length_share(by_family["reasoning_harvest"])
    for events in per_account(bulk).values():
        assert len(events) / HOURS > 20  # high volume
        assert len({user_text(e) for e in events}) > len(events) / 5  # varied records


def test_dedicated_attack_accounts_send_public_report_rates(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for family in DEDICATED:
        accounts = per_account(answered(by_family[family]))
        assert len(accounts) >= 4, family
        rates = [len(events) / HOURS for events in accounts.values()]
        assert 3 <= statistics.median(rates) <= 13, (family, rates)
        assert max(rates) <= 20, (family, rates)


def test_campaigns_of_a_family_differ_in_template_sampling_and_client(
    by_campaign: dict[str, list[dict[str, Any]]],
) -> None:
    families: dict[str, list[str]] = defaultdict(list)
    for name in by_campaign:
        families[name.split("/")[0]].append(name)
    assert set(families) == set(ATTACK_FAMILIES)
    for family, names in families.items():
        assert len(names) >= 2, family
        # Harvest requests only: a mixed harvester's cover chat varies like any chat.
        harvest = {n: [e for e in by_campaign[n] if e["conversation_id"] is None] for n in names}
        samplings = [{sampling_tuple(e) for e in harvest[n]} for n in names]
        agents = [{e["client"]["user_agent"] for e in by_campaign[n]} for n in names]
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                assert not samplings[i] & samplings[j], (family, names[i], names[j])
                assert not agents[i] & agents[j], (family, names[i], names[j])
        if family == "logit_probe":
            continue  # no template: a fixed prompt or a few
        skeletons = [skeleton(answered(harvest[n])) for n in names]
        assert all(skeletons), family  # each campaign has fixed template text...
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                union = skeletons[i] | skeletons[j]
                # ...but not the same one: another campaign's wording is mostly different.
                assert len(skeletons[i] & skeletons[j]) / len(union) < 0.5, (family, i, j)


def test_a_campaign_keeps_one_sampling_tuple(by_campaign: dict[str, list[dict[str, Any]]]) -> None:
    for name, events in by_campaign.items():
        harvest = [e for e in events if e["conversation_id"] is None]  # not the cover chat
        # A stealthy campaign's sub-teams each keep theirs.
        teams = len(STEALTH_TEAMS[0]) if name.startswith("stealthy_hydra/") else 1
        assert len({sampling_tuple(e) for e in harvest}) == teams, name


def test_reasoning_harvest_runs_in_several_languages_per_campaign(
    by_campaign: dict[str, list[dict[str, Any]]],
) -> None:
    def language(text: str) -> str | None:
        for lang, markers in STEP_MARKERS.items():
            if any(marker in text for marker in markers):
                return lang
        for lang, frame in RATIONALE_FRAMES.items():
            if frame.split("{a}")[1].strip() in text:
                return lang
        return None

    sets = []
    for name in (n for n in by_campaign if n.startswith("reasoning_harvest/")):
        found = Counter(language(user_text(e)) for e in by_campaign[name])
        assert None not in found and len(found) >= 3, (name, found)
        sets.append(frozenset(found))
    assert len(sets) >= 3 and len(set(sets)) == len(sets)
    assert len(frozenset().union(*sets)) >= 7


def test_agentic_harvest_declares_tools_and_never_answers_tool_calls(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    events = answered(by_family["agentic_coding_harvest"])
    assert all(e["request"]["tools"] > 0 for e in events)
    assert all([m["role"] for m in e["request"]["messages"]] == ["user"] for e in events)
    assert all(e["conversation_id"] is None and e["turn_index"] == 0 for e in events)
    tool_calls = sum(e["response"]["finish_reason"] == "tool_calls" for e in events)
    assert tool_calls / len(events) > 0.4


def test_rubric_grading_asks_to_rate_several_candidates(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    events = by_family["rubric_grading"]
    graded = [e for e in events if any(w in user_text(e) for w in ("1 to 5", "1 to 10"))]
    assert len(graded) == len(events)
    assert statistics.mean(len(user_text(e)) for e in events) > 1000  # candidates inlined


def test_mixed_harvester_hides_harvest_among_real_chat(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for events in per_account(by_family["mixed_harvester"]).values():
        multi = sum(len(e["request"]["messages"]) > 1 for e in events)
        single = [e for e in events if e["conversation_id"] is None]
        assert multi > 0 and len(single) > len(events) / 3


def test_support_bots_hold_short_conversations_for_many_end_users(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for events in per_account(by_family["support_bot"]).values():
        assert len({e["request"]["system"] for e in events}) == 1
        conversations = Counter(e["conversation_id"] for e in events)
        assert len(conversations) > 100 and max(conversations.values()) <= 4
        assert sum(e["turn_index"] > 0 for e in events) / len(events) > 0.2
        assert len({user_text(e) for e in events}) > 50


def test_benchmark_researchers_share_items_and_run_in_bursts(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    events = by_family["benchmark_researchers"]
    accounts = per_account(events)
    senders: dict[str, set[str]] = defaultdict(set)
    for event in events:
        senders[user_text(event)].add(event["account_id"])
    assert max(len(a) for a in senders.values()) >= 2  # the same items across accounts
    for account_events in accounts.values():
        hours = {int(e["timestamp"] // 3600) for e in account_events}
        assert len(hours) <= 8  # a run or a few, then idle
        texts = Counter(user_text(e) for e in account_events)
        runs = len(account_events) / len(texts)
        assert runs >= 1 and max(texts.values()) == min(texts.values())  # whole reruns


def test_the_default_population_has_every_benign_family() -> None:
    labels = simulate("benign", hours=1, seed=1).labels
    counts = Counter(label.family for label in labels)
    assert set(counts) == set(BENIGN_MIX)
    assert min(counts.values()) >= 5 and counts["benchmark_researchers"] >= 10


def test_synthetic_data_users_rotate_their_own_templates(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for events in per_account(by_family["synthetic_data_user"]).values():
        assert all(len(e["request"]["messages"]) == 1 for e in events)
        heads = Counter(user_text(e)[:40] for e in events)
        assert sum(n >= len(events) / 10 for n in heads.values()) >= 3
        assert length_share(events) < 0.05


def test_agent_platforms_answer_their_tool_calls_with_tool_results(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    events = by_family["agent_platform"]
    assert all(e["request"]["tools"] > 0 for e in events)
    by_conversation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_conversation[event["conversation_id"]].append(event)
    answered_calls = 0
    for turns in by_conversation.values():
        turns.sort(key=lambda e: e["turn_index"])
        for this, after in itertools.pairwise(turns):
            if this["response"]["finish_reason"] == "tool_calls":
                assert after["request"]["messages"][-1]["role"] == "tool"
                answered_calls += 1
    assert answered_calls > 50
    assert sum(e["turn_index"] > 0 for e in events) / len(events) > 0.4


def test_tutoring_apps_nudge_step_by_step_and_students_follow_up(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for events in per_account(by_family["tutoring_app"]).values():
        assert len({e["request"]["system"] for e in events}) == 1
        nudges = {user_text(e).rsplit("\n\n", 1)[-1] for e in events}
        assert len(nudges) == 1 and "step" in nudges.pop().lower()
        assert sum(e["turn_index"] > 0 for e in events) / len(events) > 0.25
        assert len(per_account(events)) == 1 and len({user_text(e) for e in events}) > 20


def test_a_support_bot_keeps_a_persona_with_braces_verbatim() -> None:
    """Personas are corpus text, some with braces ("{q='title'}"): only the policy is a
    format string (a persona went through str.format and raised KeyError)."""
    import dataclasses
    import random

    from streams.sim.apps import support_bot
    from streams.sim.corpus import load_corpus
    from streams.sim.profile import Profile

    corpus = load_corpus()
    braced = [persona for persona in corpus.personas if "{" in persona]
    assert braced
    for persona in braced:
        profile = Profile(
            "acct_support",
            "tier-1",
            random.Random(1),
            dataclasses.replace(corpus, personas=(persona,)),
            "203.0.113.9",
            "app/1.0",
            64500,
            "US",
            "pay-1",
            "tls-1",
        )
        event = next(iter(support_bot(profile, 1_771_840_800.0, 1_771_927_200.0)))
        assert event["request"]["system"].startswith(persona)


def net24(event: dict[str, Any]) -> str:
    return str(event["client"]["ip"]).rsplit(".", 1)[0]


def test_a_stealthy_hydra_looks_like_many_unrelated_light_users(
    by_campaign: dict[str, list[dict[str, Any]]],
) -> None:
    """Issue 9: spread over several /24s and ASNs, payment methods shared by small groups only,
    ordinary chat on every account, sub-teams with their own templates and sampling."""
    names = [n for n in by_campaign if n.startswith("stealthy_hydra/")]
    assert len(names) == 2
    for name in names:
        events = by_campaign[name]
        accounts = per_account(events)
        assert len(accounts) >= 100
        assert len({net24(e) for e in events}) >= 8
        assert len({e["client"]["asn"] for e in events}) >= 8
        per_payment = Counter(
            {e["account_id"]: e["client"]["payment_fingerprint"] for e in events}.values()
        )
        assert max(per_payment.values()) <= 12  # small groups, not the whole campaign
        covered = [a for a, evs in accounts.items() if any(e["conversation_id"] for e in evs)]
        assert len(covered) >= 0.9 * len(accounts)  # cover chat on (nearly) every account
        harvest = [e for e in events if e["conversation_id"] is None]
        per_day = len(harvest) / len(accounts) / (HOURS / 24)
        assert 10 <= per_day <= 45  # the public reports' ~26 a day
        assert len({sampling_tuple(e) for e in harvest}) >= 3  # its sub-teams


def test_a_reseller_relays_several_customers_and_a_harvest(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    for account, events in per_account(by_family["reseller"]).items():
        conversations = {e["conversation_id"] for e in events if e["conversation_id"]}
        customers = {c.split("-")[1] for c in conversations}
        assert len(customers) >= 3, account  # several customers' chats...
        harvest = [e for e in events if e["conversation_id"] is None]
        assert len(harvest) >= 0.2 * len(events), account  # ...and one harvesting
        assert len({e["client"]["ip"] for e in events}) == 1  # from the reseller's server


def test_benign_shared_infrastructure_shares_what_a_hydra_shares(
    by_family: dict[str, list[dict[str, Any]]],
) -> None:
    """The look-alikes a cross-account detector must leave alone share networks, an ASN or
    a system prompt across accounts, and are ordinary conversations."""
    carrier, lab, saas = (
        by_family["mobile_carrier_nat"], by_family["university_lab"], by_family["saas_customers"]
    )  # fmt: skip
    for events, nets in ((carrier, 2), (lab, 1), (saas, 2)):
        assert len(per_account(events)) >= 3
        assert len({net24(e) for e in events}) <= nets
        assert len({e["client"]["asn"] for e in events}) == 1
        assert any(e["turn_index"] > 0 for e in events)  # follow-ups: conversations
    assert len({e["request"]["system"] for e in saas}) == 1  # one app, one system prompt
    assert len({user_text(e) for e in saas}) > len(saas) / 4  # its users' own content
