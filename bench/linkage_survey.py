"""Survey: what links accounts in a labelled stream, benign and attack (issue 9's calibration).

    .venv/bin/python bench/linkage_survey.py EVENTS.jsonl LABELS.csv [--min-uses 2]
        [--content-of-single-turn] [--signalled-only]

For every account, the values it used at least `--min-uses` times of five independent link
classes: prompt template (skeleton fingerprint of the frame's opening or closing words),
sampling tuple, network (client /24 or ASN), payment fingerprint, TLS fingerprint. Two
accounts are *strongly linked* when they share values of at least two classes; the strong
links' connected components are the candidate clusters. Prints, per class, how many values
are shared by 5+ accounts and what those accounts are, then every candidate cluster of 5+
accounts with its composition and the share of its members' requests that carry an
extraction signal (single-turn, complete, and reasoning / rubric / instruction-generation
markers). A cross-account rule is calibrated on the benign rows of this table, not tuned to
the attack rows.
"""

from __future__ import annotations

import argparse
import csv
import itertools
from collections import Counter, defaultdict
from pathlib import Path

from detectors.decode import decode_event
from detectors.features import extract
from detectors.linkage import LINK_CLASSES as CLASSES
from detectors.linkage import extraction_signal, link_values


def attributes(
    raw: bytes, content_of_single_turn: bool, signalled_only: bool
) -> tuple[str, list[tuple[str, str]], bool]:
    """An event's link values by class, as the cross-account stage sees them."""
    event = decode_event(raw)
    f = extract(event)
    signal = extraction_signal(f)
    if signalled_only and not signal:
        return event.account_id, [], signal
    content = f.single_turn or not content_of_single_turn
    values = [
        (cls, value)
        for cls, value in link_values(event, f)
        if content or cls not in ("template", "sampling")
    ]
    return event.account_id, values, signal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--min-uses", type=int, default=2)
    parser.add_argument(
        "--content-of-single-turn",
        action="store_true",
        help="template and sampling values from single-turn requests only",
    )
    parser.add_argument(
        "--signalled-only",
        action="store_true",
        help="every value from requests carrying an extraction signal only",
    )
    args = parser.parse_args()
    with args.labels.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        family = {row["account_id"]: f"{row['label']}/{row['family']}" for row in rows}
    uses: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    requests, signalled = Counter[str](), Counter[str]()
    with args.events.open("rb") as handle:
        for line in handle:
            account, values, signal = attributes(
                line, args.content_of_single_turn, args.signalled_only
            )
            uses[account].update(values)
            requests[account] += 1
            signalled[account] += signal
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for account, counts in uses.items():
        for value, n in counts.items():
            if n >= args.min_uses:
                members[value].add(account)
    print("shared values (5+ accounts), by class:")
    for cls in CLASSES:
        groups = [m for (c, _), m in members.items() if c == cls and len(m) >= 5]
        kinds = Counter(family[a].split("/")[0] for m in groups for a in m)
        print(f"  {cls:9} {len(groups):4} values; member accounts: {dict(kinds)}")
    # Strong links: two accounts sharing values of at least two classes.
    shared: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (cls, _), accounts in members.items():
        if len(accounts) > 1:
            for a, b in itertools.combinations(sorted(accounts), 2):
                shared[(a, b)].add(cls)
    parent = {a: a for a in uses}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for (a, b), classes in shared.items():
        if len(classes) >= 2:
            parent[root(a)] = root(b)
    clusters: dict[str, list[str]] = defaultdict(list)
    for account in uses:
        clusters[root(account)].append(account)
    print("candidate clusters (strong links: 2+ classes shared), 5+ accounts:")
    for cluster in sorted(clusters.values(), key=len, reverse=True):
        if len(cluster) < 5:
            continue
        inside = frozenset(cluster)
        composition = Counter(family[a] for a in cluster)
        total = sum(requests[a] for a in cluster)
        share = sum(signalled[a] for a in cluster) / max(1, total)
        links = Counter(
            cls
            for (a, b), classes in shared.items()
            if len(classes) >= 2 and a in inside
            for cls in classes
        )
        print(
            f"  {len(cluster):4} accounts, {total:6} requests, extraction-signal share "
            f"{share:.2f}; links {dict(links)}; {dict(composition.most_common(4))}"
        )


if __name__ == "__main__":
    main()
