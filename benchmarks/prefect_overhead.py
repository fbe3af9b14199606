"""The overhead the ``arun_job`` task adds over calling the core ``AsyncClient`` directly, in
the same Prefect flow run.

One flow run, against a temporary Prefect API server (the test harness's, SQLite on this
machine), runs the same short job (``echo``, one log line) on the local platform N times
each way, interleaved:

- **direct**: the core ``AsyncClient``, opened once for the flow run,
  ``client.run(spec, follow_logs=True)``, its lines and state changes written to the run
  logger by a small callback (what flow code without the integration would write);
- **arun_job.fn**: the integration's body awaited in the flow (a key from the Prefect
  identity, the flow-run watch, the run record and its artifact), no task run;
- **arun_job task**: ``await arun_job(...)``: the same inside a Prefect task run (created
  and finished on the server, its own run logger).

Prints the medians, the difference and the ratio of each to the direct way.

    python3 -m uv run python benchmarks/prefect_overhead.py [N]

Last figures (2 cores, other agents' work running, load average 1.5-3; N = 15, 25, 25):
direct 26.9 / 32.6 / 30.7 ms; ``arun_job.fn`` +13.3 / +14.6 / +8.7 ms (1.29-1.49x);
``arun_job`` task +27.6 / +30.3 / +29.6 ms (1.93-2.02x). Of the body's overhead, the
run-record artifact is ~9 ms (one API call) and opening a client ~3 ms; the task run's
own ~15 ms is Prefect creating and finishing the task run on the server.
"""

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import isolated_prefect

_TMP = isolated_prefect("jr-prefect-bench-")

from jobrelay import AsyncClient, JobSpec  # noqa: E402
from jobrelay.waiting import JobUpdate  # noqa: E402
from jobrelay_emulators.local_home import stop_local_home  # noqa: E402
from prefect import flow, get_run_logger  # noqa: E402
from prefect.context import SyncClientContext  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402
from prefect_jobrelay import arun_job  # noqa: E402

SPEC = {"entrypoint": ["echo", "hello from the job"]}
WAYS = ("direct", "arun_job.fn", "arun_job task")


@flow(name="jobrelay-prefect-overhead")
async def bench(platform: str, n: int) -> dict[str, list[float]]:
    logger = get_run_logger()
    timings: dict[str, list[float]] = {way: [] for way in WAYS}

    def report(update: JobUpdate) -> None:
        for line in update.lines:
            logger.info("%s", line.text)
        if update.kind == "state":
            logger.info("Job %s is %s", update.status.ref.id, update.status.state.value)

    async with AsyncClient(platform) as client:
        await client.run(JobSpec(entrypoint=["true"]))  # starts the agent: not measured
        for _ in range(n):
            t0 = time.perf_counter()
            result = await client.run(JobSpec(**SPEC), follow_logs=True, on_update=report)
            assert result.state.is_success
            timings["direct"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            record: dict[str, Any] = await arun_job.fn(platform, SPEC)
            assert record["state"] == "SUCCEEDED"
            timings["arun_job.fn"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            record = await arun_job(platform, SPEC)
            assert record["state"] == "SUCCEEDED"
            timings["arun_job task"].append(time.perf_counter() - t0)
    return timings


def main(n: int) -> None:
    home = Path(_TMP) / "home"
    try:
        with prefect_test_harness(server_startup_timeout=120), SyncClientContext.get_or_create():
            timings = asyncio.run(bench(f"local://{home}", n))
    finally:
        stop_local_home(home)
    medians = {way: statistics.median(timings[way]) * 1000 for way in WAYS}
    direct = medians["direct"]
    print(f"runs per way: {n} (interleaved, one flow run, local platform, harness server)")
    print(f"{'core AsyncClient.run, follow_logs, to the run logger':54} {direct:8.1f} ms")
    for way in WAYS[1:]:
        through = medians[way]
        print(
            f"{way + ', median':54} {through:8.1f} ms   "
            f"{through - direct:+.1f} ms per job ({through / direct:.2f}x)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
