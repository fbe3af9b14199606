"""One status hub per process and settings, shared across threads and event loops
(``shared_hub=True``, the sync ``Client``'s default): on the real local platform behind a
platform that records every status call and the thread it came from."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from jobrelay import AsyncClient, Client, JobRef, JobSpec, JobState, JobStatus, PollPolicy
from jobrelay.platforms.base import Platform
from jobrelay.platforms.registry import open_platform, register_platform
from jobrelay_emulators.contract import CountingPlatform

from tests.platforms.conftest import kill_local_agents

TICK_S = 0.1
POLL = PollPolicy(initial_s=TICK_S, max_s=TICK_S, backoff=1.0, jitter=0.0)


class ThreadCounting(CountingPlatform):
    """Counts status calls, each with its number of jobs and the thread that made it."""

    calls: list[tuple[str, int]] = []  # one list for every instance: the hub's and the clients'

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        ThreadCounting.calls.append((threading.current_thread().name, len(refs)))
        return await self.inner.statuses(refs)


async def open_counting(url: str, **options: Any) -> Platform:
    inner = await open_platform("local://" + url.split("://", 1)[1], **options)
    return ThreadCounting(inner)  # type: ignore[return-value]


register_platform("countinglocal", open_counting)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    ThreadCounting.calls.clear()
    yield home
    kill_local_agents(home)


def on_threads(n: int, work: Any) -> list[Any]:
    """``work(i)`` on ``n`` threads at once; their results (or errors) by index."""
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return results


@pytest.mark.slow
def test_twenty_waiters_on_twenty_loops_make_one_status_call_per_tick(home: Path) -> None:
    url = f"countinglocal://{home}"
    n = 20
    together = threading.Barrier(n)

    def sync_waiter() -> JobState:  # the sync facade: a loop of its own per Client
        with Client(url, poll=POLL) as client:
            ref = client.submit(JobSpec(entrypoint="sleep 1.5"))
            together.wait()
            return client.wait(ref).state

    def async_waiter() -> JobState:  # an async task on a thread and loop of its own
        async def main() -> JobState:
            async with AsyncClient(url, poll=POLL, shared_hub=True) as client:
                ref = await client.submit(JobSpec(entrypoint="sleep 1.5"))
                await asyncio.to_thread(together.wait)
                return (await client.wait(ref)).state

        return asyncio.run(main())

    started = time.monotonic()
    states = on_threads(n, lambda i: sync_waiter() if i % 2 else async_waiter())
    elapsed = time.monotonic() - started

    assert states == [JobState.SUCCEEDED] * n
    calls = ThreadCounting.calls
    # Every status call came from the one hub, whatever thread and loop its waiters ran on.
    assert {thread for thread, _ in calls} == {"jobrelay-status-hubs"}
    # A call carried every waiting job (before the first ended) ...
    assert max(jobs for _, jobs in calls) == n
    # ... and there was one call per tick: one hub ticks about once per TICK_S (plus a tick
    # for each waiter's arrival and for each change the platform tells of); twenty hubs
    # would make twenty calls in that time.
    assert len(calls) <= 2 * elapsed / TICK_S + n, (len(calls), elapsed)


@pytest.mark.slow
def test_a_cancelled_waiter_cancels_its_job_while_the_others_finish(home: Path) -> None:
    url = f"countinglocal://{home}"
    cancelled: list[JobRef] = []

    def waiter(i: int) -> JobState:
        async def main() -> JobState:
            async with AsyncClient(url, shared_hub=True) as client:
                if i > 0:
                    return (await client.run(JobSpec(entrypoint="sleep 1"))).state
                # An anyio scope (as Prefect's timeout_seconds) cuts the shared wait short.
                with anyio.move_on_after(1.5):
                    await client.run(JobSpec(entrypoint="sleep 60"), on_submit=cancelled.append)
                return (await client.wait(cancelled[0], raise_on_failure=False)).state

        return asyncio.run(main())

    states = on_threads(5, waiter)

    assert states == [JobState.CANCELLED] + [JobState.SUCCEEDED] * 4


def _wait_in_child(url: str, queue: Any) -> None:
    async def main() -> JobState:
        async with AsyncClient(url, shared_hub=True) as client:
            return (await client.run(JobSpec(entrypoint="true"))).state

    queue.put(asyncio.run(main()).value)


def test_a_forked_child_waits_through_a_hub_of_its_own(home: Path) -> None:
    url = f"local://{home}"

    async def in_parent() -> None:
        async with AsyncClient(url, shared_hub=True) as client:
            assert (await client.run(JobSpec(entrypoint="true"))).state is JobState.SUCCEEDED

    asyncio.run(in_parent())  # the parent's hub thread runs now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_wait_in_child, args=(url, queue))
    child.start()
    child.join(60)
    if child.is_alive():  # waiting on the parent's hub, which has no thread in the child
        child.kill()
    assert child.exitcode == 0
    assert queue.get(timeout=5) == "SUCCEEDED"


def test_the_hub_thread_does_not_keep_the_process_alive(home: Path) -> None:
    script = (  # the sync Client shares by default; the hub thread outlives it
        "import sys\n"
        "from jobrelay import Client, JobSpec\n"
        "with Client(sys.argv[1]) as client:\n"
        "    print(client.run(JobSpec(entrypoint='true')).state.value)\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, f"local://{home}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SUCCEEDED"
    assert time.monotonic() - started < 30
