"""A cancel that cannot be cancelled: whatever stops ``AsyncClient.run`` after its submit, the
terminate request reaches the platform and is answered before ``run`` lets go, and the job
ends terminated. Against the Anyscale emulator over real HTTP on loopback, its terminate
endpoint slowed to 0.5 s so that the cancel is in flight when the next cancellation lands.

The assertion that tells a cancel cut short from one carried out: when ``run`` lets go, the
emulator has already *handled* the terminate (a shielded cancel abandoned by its caller is
still sleeping in the emulator then, or was never sent because the client closed first).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from jobrelay import AsyncClient, Client, JobRef, JobSpec, JobState, JobUpdate, PollPolicy
from jobrelay.integration import run_sync
from jobrelay_emulators.anyscale import AnyscaleEmulator

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

FAST = PollPolicy(initial_s=0.05, max_s=0.2)
SLOW_TERMINATE_S = 0.5
LONG_JOB = JobSpec(entrypoint="sleep 60")


@pytest.fixture
def anyscale(tmp_path: Path) -> Iterator[AnyscaleEmulator]:
    emulator = AnyscaleEmulator(workdir=tmp_path / "jobs").start()
    emulator.add_fault("terminate", "slow", delay_s=SLOW_TERMINATE_S, times=None)
    try:
        yield emulator
    finally:
        emulator.stop()


def open_client(anyscale: AnyscaleEmulator) -> AsyncClient:
    return AsyncClient(f"anyscale://?host={anyscale.url}", credential=anyscale.token, poll=FAST)


@pytest.fixture
async def client(anyscale: AnyscaleEmulator) -> AsyncIterator[AsyncClient]:
    opened = open_client(anyscale)
    try:
        yield opened
    finally:
        await opened.aclose()


class Watched:
    """The job ``run`` submitted, as the emulator sees it."""

    def __init__(self, anyscale: AnyscaleEmulator) -> None:
        self.anyscale = anyscale
        self.ref: JobRef | None = None

    def on_submit(self, ref: JobRef) -> None:
        self.ref = ref

    @property
    def job(self) -> Any:
        assert self.ref is not None
        return self.anyscale.world.jobs[self.ref.id]

    async def running(self) -> None:
        await until(lambda: self.ref is not None and self.job.state == "RUNNING", 20)

    async def terminate_in_flight(self) -> None:
        await until(lambda: bool(self.anyscale.calls("terminate")), 10)

    def terminate_handled(self) -> bool:
        return bool(self.job.terminate_asked)

    async def assert_cancelled(self) -> None:
        """The emulator got the terminate, and the job ended CANCELLED (TERMINATED there)."""
        assert self.ref is not None
        assert len(self.anyscale.calls("terminate")) >= 1
        await until(lambda: self.job.state == "TERMINATED", 15)
        fresh = open_client(self.anyscale)
        try:
            assert (await fresh.status(self.ref)).state is JobState.CANCELLED
        finally:
            await fresh.aclose()


async def until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_an_asyncio_timeout_cancels_the_job_before_run_lets_go(
    anyscale: AnyscaleEmulator, client: AsyncClient
) -> None:
    watched = Watched(anyscale)

    async def run_until_running() -> None:
        async with asyncio.timeout(None) as limit:
            running = asyncio.create_task(watched.running())
            running.add_done_callback(lambda _: limit.reschedule(-1))  # it runs out now
            await client.run(LONG_JOB, on_submit=watched.on_submit)

    with pytest.raises(TimeoutError):
        await run_until_running()
    assert watched.terminate_handled()
    await watched.assert_cancelled()


async def test_three_task_cancels_while_the_cancel_is_in_flight_do_not_cut_it_short(
    anyscale: AnyscaleEmulator, client: AsyncClient
) -> None:
    watched = Watched(anyscale)
    run = asyncio.create_task(client.run(LONG_JOB, on_submit=watched.on_submit))
    await watched.running()
    run.cancel()
    await watched.terminate_in_flight()
    for _ in range(3):
        run.cancel()
        await asyncio.sleep(0.05)
    assert not run.done()  # still waiting for the terminate's answer
    with pytest.raises(asyncio.CancelledError):
        await run
    assert watched.terminate_handled()
    await watched.assert_cancelled()


@pytest.mark.parametrize("how", ["cancel-scope", "move-on-after"])
async def test_a_level_triggered_anyio_cancel_scope_does_not_cut_the_cancel_short(
    anyscale: AnyscaleEmulator, how: str
) -> None:
    # As Prefect's timeout_seconds does: the scope ends around the client's ``async with``,
    # which closes the client at once after ``run``.
    watched = Watched(anyscale)
    with anyio.move_on_after(600) if how == "move-on-after" else anyio.CancelScope() as scope:
        running = asyncio.create_task(watched.running())
        if how == "cancel-scope":
            running.add_done_callback(lambda _: scope.cancel())
        else:  # its deadline passes now
            running.add_done_callback(lambda _: setattr(scope, "deadline", 0))
        async with open_client(anyscale) as client:
            await client.run(LONG_JOB, on_submit=watched.on_submit)
    assert scope.cancelled_caught
    assert watched.terminate_handled()
    await watched.assert_cancelled()


async def test_a_client_closed_at_once_after_the_cancellation_waits_for_the_cancel(
    anyscale: AnyscaleEmulator,
) -> None:
    watched = Watched(anyscale)
    client = open_client(anyscale)
    run = asyncio.create_task(client.run(LONG_JOB, on_submit=watched.on_submit))
    await watched.running()
    run.cancel()
    await client.aclose()  # before the run has even seen its cancellation
    assert watched.terminate_handled()
    with pytest.raises(asyncio.CancelledError):
        await run
    await watched.assert_cancelled()


@pytest.mark.parametrize("where", ["on_submit", "on_update"])
async def test_an_error_raised_after_the_submit_cancels_the_job(
    anyscale: AnyscaleEmulator, client: AsyncClient, where: str
) -> None:
    watched = Watched(anyscale)

    def on_submit(ref: JobRef) -> None:
        watched.on_submit(ref)
        if where == "on_submit":
            raise RuntimeError("the caller's callback failed")

    def on_update(update: JobUpdate) -> None:
        if update.status.state is JobState.RUNNING:
            raise RuntimeError("the caller's callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        await client.run(LONG_JOB, on_submit=on_submit, on_update=on_update)
    assert watched.terminate_handled()
    await watched.assert_cancelled()


def test_a_second_ctrl_c_during_the_cancel_does_not_cut_it_short(
    anyscale: AnyscaleEmulator,
) -> None:
    """Ctrl-C under ``asyncio.run`` cancels the main task; a second one, while the cancel is in
    flight, raises KeyboardInterrupt into the loop's thread (asyncio.run's own handler)."""
    watched = Watched(anyscale)
    in_loop = threading.Event()

    async def main() -> None:
        in_loop.set()
        async with open_client(anyscale) as client:
            await client.run(LONG_JOB, on_submit=watched.on_submit)

    def interrupter() -> None:
        asyncio.run(watched.running())
        os.kill(os.getpid(), signal.SIGINT)
        asyncio.run(watched.terminate_in_flight())
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=_after(in_loop, interrupter), daemon=True)
    thread.start()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    assert watched.terminate_handled()
    thread.join(5)
    asyncio.run(watched.assert_cancelled())


def test_ctrl_c_in_the_sync_client_cancels_the_job_before_it_propagates(
    anyscale: AnyscaleEmulator,
) -> None:
    watched = Watched(anyscale)
    started = threading.Event()

    def interrupter() -> None:
        asyncio.run(watched.running())
        os.kill(os.getpid(), signal.SIGINT)  # lands on the main thread, in Client.run

    with Client(f"anyscale://?host={anyscale.url}", credential=anyscale.token, poll=FAST) as sync:
        thread = threading.Thread(target=_after(started, interrupter), daemon=True)
        thread.start()
        started.set()
        with pytest.raises(KeyboardInterrupt):
            sync.run(LONG_JOB, on_submit=watched.on_submit)
        assert watched.terminate_handled()
    thread.join(5)
    asyncio.run(watched.assert_cancelled())


def _after(event: threading.Event, fn: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        event.wait(10)
        fn()

    return run


@pytest.mark.parametrize("cancel_on_error", [True, False])
def test_an_error_in_run_sync_after_the_submit_cancels_the_job_unless_told_to_leave_it(
    anyscale: AnyscaleEmulator, cancel_on_error: bool
) -> None:
    """The bridge the adapters share: an ordinary error after the submit cancels the job; an
    adapter that leaves it for its retry to reattach says ``cancel_on_error=False``."""
    watched = Watched(anyscale)

    async def submit_then_fail(client: AsyncClient) -> None:
        watched.on_submit(await client.submit(LONG_JOB))
        await client.wait(watched.ref, until=JobState.RUNNING)  # type: ignore[arg-type]
        raise RuntimeError("the adapter's own step failed")

    with pytest.raises(RuntimeError, match="own step failed"):
        run_sync(
            lambda: open_client(anyscale),
            submit_then_fail,
            job=lambda: watched.ref,
            cancel_on_error=cancel_on_error,
        )
    if cancel_on_error:
        assert watched.terminate_handled()
        asyncio.run(watched.assert_cancelled())
    else:
        assert anyscale.calls("terminate") == []
        assert watched.job.state == "RUNNING"


@pytest.mark.parametrize("stop", ["anyio scope", "task cancel"])
async def test_a_keyed_submit_cut_short_in_flight_cancels_the_job_it_created(
    anyscale: AnyscaleEmulator, client: AsyncClient, stop: str
) -> None:
    # The job is created at once and its answer comes 1 s later: the caller is stopped in
    # between (Prefect's timeout during a submit), so it never learns the job's id.
    anyscale.add_fault("create", "slow", delay_s=1.0, after=True)
    spec = LONG_JOB.model_copy(update={"idempotency_key": f"cut-short-{stop}"})

    async def in_flight() -> None:
        await until(lambda: bool(anyscale.calls("create")), 20)
        await asyncio.sleep(0.2)

    if stop == "anyio scope":  # level-triggered, as Prefect's timeout_seconds
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(client.submit, spec)
                await in_flight()
                scope.cancel()
    else:
        task = asyncio.create_task(client.submit(spec))
        await in_flight()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    jobs = anyscale.jobs_tagged("jobrelay-idempotency-key", spec.idempotency_key or "")
    assert len(jobs) == 1
    assert jobs[0].terminate_asked, "the job the cut-short submit created must be cancelled"
