"""Start-up checks of the Redis server the worker keeps its state in.

Exactly-once counting rests on the dedupe record of an event surviving as long as the window
counts it added. Under an eviction policy (`volatile-lru` is a common managed default) Redis
may drop a dedupe set while the windows beside it survive: a redelivered batch is then counted
twice, silently. So the worker refuses to start on a server that may evict, unless told to
(`--allow-eviction`, for a deployment that accepts it). `INFO memory` is read rather than
`CONFIG GET`, which managed services often rename or forbid.

Persistence is documented, not enforced (docs/operations.md): the worker acks Kafka only after
Redis has the batch, so what a Redis restart may lose is what its persistence did not write.
"""

from __future__ import annotations

from streams.redis_connect import connect_sync, primaries_info

SAFE_POLICY = "noeviction"


class RedisStateError(RuntimeError):
    """The Redis server cannot keep the worker's guarantees."""


def check_eviction_policy(url: str, *, allow_eviction: bool = False) -> str:
    """The server's maxmemory-policy; raises RedisStateError unless it is noeviction or
    eviction is explicitly allowed."""
    client = connect_sync(url)
    try:
        policies = {
            str(i.get("maxmemory_policy", SAFE_POLICY)) for i in primaries_info(client, "memory")
        }
    finally:
        client.close()
    unsafe = sorted(policies - {SAFE_POLICY})
    policy = unsafe[0] if unsafe else SAFE_POLICY  # a cluster is as safe as its least safe node
    if policy != SAFE_POLICY and not allow_eviction:
        raise RedisStateError(
            f"Redis maxmemory-policy is {policy}: it may evict an account's dedupe set while its "
            f"windows survive, and a redelivered batch would then count twice. Set "
            f"maxmemory-policy {SAFE_POLICY} (and size maxmemory for the state), or start the "
            f"worker with --allow-eviction to accept that risk."
        )
    return policy
