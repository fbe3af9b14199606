"""1,000 deferred ``JobTrigger``s on one event loop, as a triggerer runs them.

Each trigger waits on its own local job (``true`` through a queue of concurrency 2, so most
wait a while in the queue). Measured, in this one process: platform ``statuses()`` calls per
status-hub tick (goal 1), the event loop's worst lag (a 10 ms ticker's overshoot; goal
<= 100 ms), peak RSS above idle (goal <= 300 MB), and detection latency (a job's end on the
platform -> its trigger's event; median and p90).

    uv run python benchmarks/airflow_triggers.py [TRIGGERS]
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def lag_monitor(stop: asyncio.Event, worst: list[float]) -> None:
    """``worst``: [worst overshoot of a 10 ms sleep, when it happened (perf_counter)]."""
    while not stop.is_set():
        began = time.perf_counter()
        await asyncio.sleep(0.01)
        lag = time.perf_counter() - began - 0.01
        if lag > worst[0]:
            worst[:] = [lag, began]


async def main(count: int, home: Path) -> None:
    from airflow_jobrelay.triggers import JobTrigger
    from jobrelay import AsyncClient, JobRef, JobSpec, JobStatus

    idle = peak_rss_mb()
    async with AsyncClient(f"local://{home}") as setup:
        await setup.run(JobSpec(entrypoint="true"))  # a warm agent; not measured
        await setup.create_queue("bench", max_concurrency=2)
        refs = [
            (await setup.submit(JobSpec(entrypoint=["true"], queue="bench"))).model_dump(
                mode="json"
            )
            for _ in range(count)
        ]
    triggers = [JobTrigger(job=ref, jobrelay_conn_id="jr_bench") for ref in refs]
    client = await triggers[0]._client()  # the one client every trigger of this conn shares
    platform = await client.platform()
    calls: list[int] = []
    real = platform.statuses

    async def counted(batch: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        calls.append(len(batch))
        return await real(batch)

    platform.statuses = counted  # type: ignore[method-assign]
    hub = await client.status_hub()
    ticks_before = hub.ticks
    stop, worst = asyncio.Event(), [0.0, 0.0]
    monitor = asyncio.create_task(lag_monitor(stop, worst))
    latencies: list[float] = []
    started = datetime.now(UTC)

    async def run_one(trigger: JobTrigger) -> str:
        async for event in trigger.run():
            now = datetime.now(UTC)
            ended = JobStatus.model_validate(event.payload["status"]).ended_at
            if ended is not None and ended > started:  # ended while its trigger watched
                latencies.append((now - ended).total_seconds())
            return str(event.payload["outcome"])
        raise AssertionError("no event")

    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(run_one(t) for t in triggers))
    elapsed = time.perf_counter() - t0
    stop.set()
    await monitor
    ticks = hub.ticks - ticks_before
    assert outcomes.count("succeeded") == count, outcomes[:5]
    latencies.sort()
    print(f"triggers: {count}, all succeeded in {elapsed:.1f} s")
    print(f"hub ticks: {ticks}, statuses() calls: {len(calls)}, per tick: {len(calls) / ticks:.2f}")
    print(f"largest call: {max(calls)} jobs   goal: 1 call per tick")
    print(
        f"worst event-loop lag: {worst[0] * 1000:.0f} ms, {worst[1] - t0:.1f} s after the "
        "triggers started   goal <= 100 ms"
    )
    print(
        f"peak RSS: {peak_rss_mb():.0f} MB, {peak_rss_mb() - idle:.0f} MB above idle   goal <= 300"
    )
    print(
        f"detection latency: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p90 {latencies[int(len(latencies) * 0.9)] * 1000:.0f} ms "
        f"({len(latencies)} jobs that ended while watched)"
    )
    await client.aclose()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="jrbench-triggers-") as tmp:
        home = Path(tmp) / "home"
        os.environ["AIRFLOW_CONN_JR_BENCH"] = json.dumps(
            {"conn_type": "jobrelay", "host": f"local://{home}"}
        )
        os.environ.setdefault("AIRFLOW_HOME", str(Path(tmp) / "airflow"))
        try:
            asyncio.run(main(count, home))
        finally:
            from jobrelay.testing.local_home import stop_local_home

            stop_local_home(home)
