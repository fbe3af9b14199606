"""Status calls of N concurrent ``arun_job`` tasks in one Prefect flow run, with one status hub
per task (as before issue 27) and with the process's shared hub, in the same run.

A sync flow ``.submit()``s N ``arun_job`` tasks (a thread pool of N: each async task runs on
a thread and event loop of its own) whose jobs sleep a few seconds, on the local platform
(a queue of concurrency N, so every job runs at once) and on the Anyscale emulator. Every
``statuses()`` call of the platform is counted, with the jobs it carried, and every tick of
every status hub in the process. "Status calls per tick" is the calls divided by the ticks
of the busiest hub (one hub: 1.00; one hub per task: up to N). On the emulator its request
log gives the HTTP requests of those calls (Anyscale: a job-list page and a runs search).

    .venv/bin/python benchmarks/prefect_waiters.py [N] [JOB_SECONDS]

The last line is ``status calls per tick: X`` (the shared hub, local platform).
"""

from __future__ import annotations

import asyncio
import collections
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import isolated_prefect

_TMP = isolated_prefect("jr-prefect-waiters-", PREFECT_LOGGING_LEVEL="WARNING")

from jobrelay import AsyncClient, JobRef, JobStatus, PollPolicy  # noqa: E402
from jobrelay.waiting import StatusHub  # noqa: E402
from jobrelay_emulators.local_home import stop_local_home  # noqa: E402
from prefect import flow  # noqa: E402
from prefect.context import SyncClientContext  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402
from prefect_jobrelay import JobRelayCredentials, arun_job  # noqa: E402
from pydantic import SecretStr  # noqa: E402

MODES = ("one hub per task", "shared hub")


class Counts:
    """Every statuses() call (jobs carried, thread) and every hub tick, per hub."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[int] = []
        self.threads: set[str] = set()
        self.ticks: collections.Counter[int] = collections.Counter()

    def per_tick(self) -> float:
        busiest = max(self.ticks.values(), default=0)
        return len(self.calls) / busiest if busiest else float("nan")


@contextmanager
def counting(platform_class: type, counts: Counts) -> Iterator[None]:
    real_statuses = platform_class.statuses
    real_tick = StatusHub._tick

    async def statuses(self: Any, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        with counts.lock:
            counts.calls.append(len(refs))
            counts.threads.add(threading.current_thread().name)
        return await real_statuses(self, refs)

    async def tick(self: StatusHub) -> bool:
        with counts.lock:
            counts.ticks[id(self)] += 1
        return await real_tick(self)

    platform_class.statuses = statuses
    StatusHub._tick = tick  # type: ignore[method-assign]
    try:
        yield
    finally:
        platform_class.statuses = real_statuses
        StatusHub._tick = real_tick  # type: ignore[method-assign]


@contextmanager
def hub_per_task(on: bool) -> Iterator[None]:
    """When ``on``, the integration as it was: every task's client with a hub of its own."""
    real = JobRelayCredentials.get_client
    if not on:
        yield
        return

    def get_client(self: JobRelayCredentials, *, poll: PollPolicy | None = None) -> AsyncClient:
        url, options = self.client_settings()
        return AsyncClient(url, poll=poll, shared_hub=False, **options)

    JobRelayCredentials.get_client = get_client  # type: ignore[method-assign]
    try:
        yield
    finally:
        JobRelayCredentials.get_client = real  # type: ignore[method-assign]


def waiters_flow(n: int) -> Any:
    @flow(name="jobrelay-prefect-waiters", task_runner=ThreadPoolTaskRunner(max_workers=n))
    def fifty(creds: JobRelayCredentials, spec: dict[str, Any]) -> list[str]:
        futures = [arun_job.submit(creds, spec, follow_logs=False) for _ in range(n)]
        return [f.result()["state"] for f in futures]

    return fifty


def measure(
    name: str,
    creds: JobRelayCredentials,
    spec: dict[str, Any],
    n: int,
    platform_class: type,
    requests: Callable[[], int] | None = None,
) -> dict[str, Counts]:
    """Both modes, one flow run each; ``requests()`` counts the platform's status requests."""
    results = {}
    for mode in MODES:
        counts = Counts()
        made_before = requests() if requests else 0
        t0 = time.perf_counter()
        with hub_per_task(mode == MODES[0]), counting(platform_class, counts):
            states = waiters_flow(n)(creds, spec)
        elapsed = time.perf_counter() - t0
        assert states == ["SUCCEEDED"] * n, collections.Counter(states)
        calls = counts.calls
        busiest = max(counts.ticks.values())
        line = (
            f"{name:8} {mode:16} {len(calls):5} status calls in {elapsed:5.1f} s "
            f"({len(calls) / elapsed:5.1f}/s), {len(counts.ticks):2} hub(s) on "
            f"{len(counts.threads):2} thread(s), busiest {busiest:3} ticks, jobs per call "
            f"mean {sum(calls) / len(calls):4.1f} max {max(calls):2}: "
            f"{counts.per_tick():5.2f} calls per tick"
        )
        if requests:
            made = requests() - made_before
            line += f"; {made} status requests, {made / busiest:.2f} per tick"
        print(line)
        results[mode] = counts
    return results


def on_local(n: int, seconds: float) -> dict[str, Counts]:
    from jobrelay.platforms.local.platform import LocalPlatform

    home = Path(_TMP) / "home"
    url = f"local://{home}"

    async def prepare() -> None:
        async with AsyncClient(url) as client:
            await client.create_queue("waiters", max_concurrency=n)

    asyncio.run(prepare())
    try:
        spec = {"entrypoint": f"sleep {seconds}", "queue": "waiters"}
        return measure("local", JobRelayCredentials(platform=url), spec, n, LocalPlatform)
    finally:
        stop_local_home(home)


def on_anyscale(n: int, seconds: float) -> dict[str, Counts]:
    from jobrelay.platforms.anyscale.platform import AnyscalePlatform
    from jobrelay_emulators.anyscale import AnyscaleEmulator

    emulator = AnyscaleEmulator(workdir=Path(_TMP) / "anyscale-jobs").start()
    try:
        creds = JobRelayCredentials(
            platform=f"anyscale://?host={emulator.url}", credential=SecretStr(emulator.token)
        )

        def status_requests() -> int:
            """What statuses() asks Anyscale: job-list pages (a find's carry a tag filter),
            runs searches and single job reads."""
            pages = [r for r in emulator.calls("list_jobs") if "tag_filter" not in r.query]
            others = emulator.calls("runs_search") + emulator.calls("get_job")
            return len(pages) + len(others)

        spec = {"entrypoint": f"sleep {seconds}"}
        return measure("anyscale", creds, spec, n, AnyscalePlatform, status_requests)
    finally:
        emulator.stop()


def main(n: int, seconds: float) -> None:
    print(f"{n} arun_job tasks .submit()-ed in one flow run, jobs of {seconds:g} s each")
    with prefect_test_harness(server_startup_timeout=120), SyncClientContext.get_or_create():
        local = on_local(n, seconds)
        anyscale = on_anyscale(n, seconds)
    before, after = (local[m].per_tick() for m in MODES)
    print(
        f"anyscale: status calls per tick {anyscale[MODES[0]].per_tick():.2f} -> "
        f"{anyscale[MODES[1]].per_tick():.2f}"
    )
    print(f"local: status calls per tick {before:.2f} -> {after:.2f}")
    print(f"status calls per tick: {after:.2f}")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 50,
        float(sys.argv[2]) if len(sys.argv) > 2 else 4.0,
    )
