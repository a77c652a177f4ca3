"""How long one state sample takes (streams/state_sampler.py): a simulated stretch of traffic
through the pipeline into Redis, then `StateSampler.take()` three times.

    .venv/bin/python bench/state_sample.py redis://127.0.0.1:6390/0
"""

from __future__ import annotations

import asyncio
import sys
import time

from streams.config_loader import load_config
from streams.pipeline import DetectionPipeline
from streams.redis_connect import connect_async
from streams.redis_store import RedisWindowStore
from streams.sim.scenarios import simulate
from streams.state_sampler import StateSampler


async def main(url: str) -> None:
    client = connect_async(url)
    prefix = f"bench-{int(time.time())}"
    config = load_config("config/detectors.yaml")
    store = RedisWindowStore(client, key_prefix=prefix)
    pipeline = DetectionPipeline(config, store)
    lines = list(simulate("all", hours=6, seed=5, benign_accounts=400).lines())
    for start in range(0, len(lines), 1000):
        chunk = lines[start : start + 1000]
        out = await pipeline.process(chunk, [("r:0", start + i) for i in range(len(chunk))])
        await pipeline.confirm_sent(out)
    s = StateSampler(client, prefix, 60)
    keys = await client.dbsize() if not hasattr(client, "get_nodes") else "cluster"
    for _ in range(3):
        started = time.perf_counter()
        sample = await s.take()
        took = time.perf_counter() - started
        print(
            f"{url}: {took:.3f} s; {sample.accounts} accounts, account state "
            f"{sample.memory['account']:,.0f} B; {len(lines)} events; keys in the db: {keys}"
        )
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
