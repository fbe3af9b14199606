"""(d) 1,000 concurrent waiters in one process: platform status calls per tick, peak RSS.

The jobs run `true` through a queue of concurrency 2, so the waiters wait for a while; every
`statuses()` call the platform receives is counted against the hub's ticks.

    uv run python benchmarks/waiters.py [WAITERS]
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from collections.abc import Mapping, Sequence

from _common import warm_local_client
from jobrelay import JobRef, JobSpec, JobStatus


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(waiters: int) -> None:
    rss_before = peak_rss_mb()
    async with warm_local_client() as client:
        platform = await client.platform()
        calls: list[int] = []
        real_statuses = platform.statuses

        async def counted(refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
            calls.append(len(refs))
            return await real_statuses(refs)

        platform.statuses = counted  # type: ignore[method-assign]
        await client.create_queue("bench", max_concurrency=2)
        refs = [
            await client.submit(JobSpec(entrypoint=["true"], queue="bench")) for _ in range(waiters)
        ]
        hub = await client.status_hub()
        ticks_before, calls_before = hub.ticks, len(calls)
        t0 = time.perf_counter()
        results = await asyncio.gather(*(client.wait(r) for r in refs))
        elapsed = time.perf_counter() - t0
        ticks = hub.ticks - ticks_before
        del calls[:calls_before]
    assert all(r.state.is_success for r in results)
    print(f"waiters: {waiters}, all succeeded in {elapsed:.1f} s")
    print(
        f"hub ticks: {ticks}, platform statuses() calls: {len(calls)}, "
        f"calls per tick: {len(calls) / ticks:.2f}   target 1"
    )
    print(f"largest call: {max(calls)} jobs in one query")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (before: {rss_before:.0f} MB)   target <= 200 MB")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
