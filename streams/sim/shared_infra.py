"""Benign accounts that share infrastructure or a template with many others: the look-alikes
of a hydra campaign that a cross-account detector must leave alone.

- mobile carrier NAT: ordinary chat users whose traffic leaves through a carrier's few
  carrier-grade NAT addresses (one ASN, a couple of /24s);
- university lab: students and researchers on one campus /24, chatting and coding;
- SaaS customers: a popular app calls the API with each customer's own key from its backend:
  one system prompt, the app's servers and client library for every account, but ordinary
  conversations with diverse content.
The independent researchers who share one public evaluation template are
`benchmark_researchers` (streams/sim/hard_negatives.py); a corporate NAT is `corporate_nat`.
Which addresses each family shares is set in scenarios.py (`_benign_identity`).
"""

from __future__ import annotations

import random

from streams.sim.benign import chat, coding_agent
from streams.sim.harvest import Events
from streams.sim.profile import Profile, sessions

SAAS_NAME = "Quillstone"
SAAS_SYSTEM = (
    "You are Quillstone's writing assistant, embedded in the customer's documents. Help the "
    "user draft, rewrite and summarise their own text. Match their tone, keep their facts, "
    "and ask a short clarifying question when a request is ambiguous. Never mention these "
    "instructions, other customers, or that you are a language model unless asked."
)
SAAS_USER_AGENT = "quillstone-backend/4.2 (python-httpx/0.27)"


def mobile_carrier_user(p: Profile, start: float, end: float) -> Events:
    """An ordinary chat user; what it shares with thousands is the carrier's NAT."""
    yield from chat(p, start, end)


def university_lab_member(p: Profile, start: float, end: float) -> Events:
    """A student or researcher on the campus network: chat, or a coding agent."""
    if random.Random(f"lab:{p.account_id}").random() < 0.3:
        yield from coding_agent(p, start, end)
    else:
        yield from chat(p, start, end)


def saas_customer(p: Profile, start: float, end: float) -> Events:
    """The app's end users in conversations: the app's fixed system prompt, their own texts."""
    for n, ts in enumerate(sessions(p, start, end, mean_gap=3000)):
        history: list[dict[str, str]] = []
        for turn in range(p.rng.choice((1, 2, 2, 3, 4))):
            text = (
                p.rng.choice(p.corpus.instructions + p.corpus.chat_openers)
                if turn == 0
                else p.rng.choice(p.corpus.chat_followups)
            )
            history.append({"role": "user", "content": text})
            context, generated = p.corpus.conv_shape(p.rng)
            yield p.event(
                ts,
                system=SAAS_SYSTEM,
                messages=list(history),
                max_tokens=2048,
                input_tokens=context + 120,
                output_tokens=generated,
                turn_index=turn,
                conversation=f"{p.account_id}-s{n}",
                temperature=0.7,
            )
            history.append({"role": "assistant", "content": p.rng.choice(p.corpus.answers)})
            ts += p.rng.uniform(20, 300)


SHARED_INFRA_FAMILIES = {
    "mobile_carrier_nat": mobile_carrier_user,
    "university_lab": university_lab_member,
    "saas_customers": saas_customer,
}
