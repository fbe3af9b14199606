"""Ray: detection latency and batched status on a real local Ray head.

(e) detection latency: Ray's ``end_time`` -> the moment ``AsyncClient.wait`` returns the
    terminal status, median of 20 sequential ``sleep 3`` jobs, with the Ray platform's
    polling policy and, for comparison, with a fixed 1 s poll (the pace of Ray's own CLI,
    whose ``ray job stop`` loop asks once a second), plus ``ray job submit`` (blocking: it
    tails the log WebSocket) from ``end_time`` to the CLI's exit, median of 3.
(f) 100 concurrent waiters on 100 PENDING jobs: HTTP list calls per hub tick (target 1).

Starts its own Ray head on loopback (jobrelay_emulators.ray_head) and stops it at the end.

    uv run python benchmarks/ray_latency.py [RUNS]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
from _common import lag_summary
from jobrelay import AsyncClient, JobSpec, JobTimeout, PollPolicy
from jobrelay_emulators.ray_head import RayHead, ray_executable

JOB = "sleep 3"


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.list_calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/api/jobs/":
            self.list_calls += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def detection_lags(url: str, runs: int, poll: PollPolicy | None) -> list[float]:
    """Seconds from Ray's end_time to wait() returning, one job at a time."""
    lags = []
    async with AsyncClient(url, poll=poll) as client:
        for _ in range(runs):
            ref = await client.submit(JobSpec(entrypoint=JOB))
            result = await client.wait(ref)
            seen = time.time()
            assert result.status.ended_at is not None
            lags.append(seen - result.status.ended_at.timestamp())
    return lags


def cli_lags(head: RayHead, runs: int) -> list[float]:
    """Seconds from end_time to the exit of a blocking ``ray job submit``."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    lags = []
    for i in range(runs):
        sid = f"bench-cli-{os.getpid()}-{i}"
        argv = [str(ray_executable()), "job", "submit", "--address", head.dashboard_url]
        argv += ["--submission-id", sid, "--", "sleep", "1.5"]
        subprocess.run(argv, env=env, capture_output=True, check=True, timeout=120)
        exited = time.time()
        details = httpx.get(f"{head.dashboard_url}/api/jobs/{sid}").json()
        lags.append(exited - details["end_time"] / 1000)
    return lags


async def list_calls_per_tick(url: str, waiters: int) -> tuple[int, int, float]:
    """100 waiters on PENDING jobs (more CPUs than the cluster has) for a few seconds."""
    transport = CountingTransport()
    async with AsyncClient(url, transport=transport) as client:
        spec = JobSpec(entrypoint="true", resources={"CPU": 64})
        refs = await asyncio.gather(*(client.submit(spec) for _ in range(waiters)))
        hub = await client.status_hub()
        ticks0, calls0 = hub.ticks, transport.list_calls
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(client.wait(r, timeout=6, cancel_on_timeout=False) for r in refs),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - t0
        assert all(isinstance(r, JobTimeout) for r in results), results[:3]
        ticks, calls = hub.ticks - ticks0, transport.list_calls - calls0
        await asyncio.gather(*(client.cancel(r) for r in refs))
    return ticks, calls, elapsed


async def main(runs: int) -> None:
    t0 = time.perf_counter()
    with RayHead.start() as head:
        print(f"Ray head up in {time.perf_counter() - t0:.1f} s at {head.dashboard_url}")
        url = head.platform_url
        await detection_lags(url, 2, None)  # warm the worker pool; not measured
        ours = await detection_lags(url, runs, None)
        fixed = await detection_lags(url, runs, PollPolicy(initial_s=1.0, max_s=1.0, jitter=0))
        cli = cli_lags(head, 3)
        ticks, calls, elapsed = await list_calls_per_tick(url, 100)
    print(f"(e) detection latency, Ray end_time -> terminal status seen, job `{JOB}`")
    print("   " + lag_summary("jobrelay (RayPlatform poll policy)", ours) + "   target <= 300 ms")
    print("   " + lag_summary("fixed 1 s poll (Ray CLI's pace)", fixed))
    print("   " + lag_summary("`ray job submit` (blocking) until it exits", cli))
    print(
        f"(f) 100 concurrent waiters for {elapsed:.1f} s: {ticks} hub ticks, {calls} "
        f"GET /api/jobs/ calls: {calls / max(ticks, 1):.2f} per tick   target 1"
    )
    print("    (a 1 s poll is expected to lag ~500 ms at the median: uniform over the interval)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
