"""An account as the simulator sees it: identity, client fingerprint, an event builder, and the
arrival helpers (diurnal sessions) that several family modules share."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.sim.corpus import Corpus

USER_AGENTS = (
    "OpenAI/Python 1.40.0",
    "OpenAI/Python 1.51.2",
    "anthropic-sdk-python/0.39",
    "node-fetch/1.0",
    "langchain/0.3.1",
    "curl/8.5.0",
    "Go-http-client/2.0",
)


Events = Iterator[dict[str, Any]]


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


@dataclass
class Profile:
    account_id: str
    tier: str
    rng: random.Random
    corpus: Corpus
    ip: str
    user_agent: str
    asn: int
    country: str
    payment_fingerprint: str
    tls_fingerprint: str
    model: str = "frontier-large"
    utc_offset_hours: int = 0
    campaign: str | None = None  # shared by a campaign's accounts: their coordination seed
    campaign_index: int = 0  # which of its family's campaigns: picks template and sampling
    _counter: int = field(default=0)

    def event(
        self,
        ts: float,
        *,
        messages: list[dict[str, str]],
        max_tokens: int | None,
        input_tokens: int,
        output_tokens: int,
        finish: str = "stop",
        turn_index: int = 0,
        conversation: str | None = None,
        system: str | None = None,
        model: str | None = None,
        **request: Any,
    ) -> dict[str, Any]:
        self._counter += 1
        body: dict[str, Any] = {"messages": messages}
        if system is not None:
            body["system"] = system
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
            output_tokens = min(output_tokens, max_tokens)
            if output_tokens >= max_tokens:
                finish = "length"
        body.update(request)
        return {
            "event_id": f"req_{self.account_id}_{self._counter:07d}",
            "timestamp": round(ts, 3),
            "account_id": self.account_id,
            "org_id": f"org_{self.account_id}",
            "api_key_id": f"key_{self.account_id}_1",
            "tier": self.tier,
            "model": model or self.model,
            "endpoint": "chat",
            "conversation_id": conversation,
            "turn_index": turn_index,
            "client": {
                "ip": self.ip,
                "user_agent": self.user_agent,
                "asn": self.asn,
                "country": self.country,
                "payment_fingerprint": self.payment_fingerprint,
                "tls_fingerprint": self.tls_fingerprint,
            },
            "request": body,
            "response": {
                "status": 200,
                "finish_reason": finish,
                "latency_ms": round(200 + output_tokens * 12 * self.rng.uniform(0.8, 1.3)),
            },
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }

    def tokens_of(self, text: str) -> int:
        return max(1, len(text) // 4)


def new_profile(
    account_id: str,
    tier: str,
    rng: random.Random,
    corpus: Corpus,
    *,
    ip: str | None = None,
    payment: str | None = None,
    asn: int | None = None,
    user_agent: str | None = None,
    tls: str | None = None,
    campaign: str | None = None,
    campaign_index: int = 0,
) -> Profile:
    return Profile(
        account_id=account_id,
        tier=tier,
        rng=rng,
        corpus=corpus,
        ip=ip
        or f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
        f"{rng.randint(1, 254)}",
        user_agent=user_agent or rng.choice(USER_AGENTS),
        asn=asn or rng.randint(1000, 64000),
        country=rng.choice(("US", "DE", "GB", "IN", "BR", "JP", "FR", "CA", "SG", "KR")),
        payment_fingerprint=payment or fingerprint("pay", account_id),
        tls_fingerprint=tls or fingerprint("tls", rng.choice(USER_AGENTS)),
        utc_offset_hours=rng.choice((-8, -5, 0, 1, 2, 5, 8, 9)),
        campaign=campaign,
        campaign_index=campaign_index,
    )


def diurnal_weight(ts: float, utc_offset_hours: int) -> float:
    """Relative activity of a human-driven account by local hour."""
    hour = int((ts / 3600 + utc_offset_hours) % 24)
    if hour < 7:
        return 0.08
    if hour < 9 or hour >= 19:
        return 0.5
    return 1.0


def sessions(p: Profile, start: float, end: float, mean_gap: float) -> Iterator[float]:
    """Session start times: Poisson arrivals thinned by the local hour of day."""
    ts = start + p.rng.expovariate(1 / mean_gap)
    while ts < end:
        if p.rng.random() < diurnal_weight(ts, p.utc_offset_hours):
            yield ts
        ts += p.rng.expovariate(1 / mean_gap)
