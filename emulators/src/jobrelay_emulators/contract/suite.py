"""The platform contract (DESIGN §14) as a test class to subclass: :class:`PlatformContract`.

Every test runs a shell command as a job on the platform under test and checks what a user
of jobrelay relies on: exit codes and log lines, cancels that leave no process behind,
timeouts, idempotent submits, log cursors without gaps or duplicates, queue order and
concurrency, shared status calls, and owners kept with the job. The jobs write files under
pytest's ``tmp_path`` and the kit checks their process groups, so the platform (or its
emulator) must run its jobs on the test's machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from jobrelay import (
    AsyncClient,
    JobCancelled,
    JobFailed,
    JobState,
    JobTimeout,
    JobUpdate,
    LogPage,
    PollPolicy,
)
from jobrelay.integration import Owner

from .counting import SlowFailingStatus
from .processes import group_gone_within, group_members
from .target import ContractTarget, cancel_and_close


def _text_of(path: Path) -> str:
    """The stripped text of a small marker file a job writes; empty while it has none."""
    return path.read_text().strip() if path.exists() else ""


async def _wait_for_file(path: Path, timeout: float = 15.0) -> str:
    """The stripped text of ``path`` once a job has written some; AssertionError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text := _text_of(path):
            return text
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


class PlatformContract:
    """The contract suite; subclass it in a test module and give the subclass a
    ``contract_target`` fixture that yields a :class:`ContractTarget` for your platform::

        class TestMyPlatform(PlatformContract):
            @pytest_asyncio.fixture
            async def contract_target(self, tmp_path):
                platform = await open_platform("mine://...")
                client, counting = counted_client(platform)
                yield ContractTarget("mine", client, counting)

    After each test the kit cancels the jobs the test left running and closes the client;
    the fixture then stops whatever else it started (an emulator, a home folder's agents).
    The tests are asyncio tests (pytest-asyncio, strict or auto mode). Tests that need a
    capability the target declares it lacks skip and name it.
    """

    pytestmark = pytest.mark.asyncio

    @pytest_asyncio.fixture
    async def target(self, contract_target: ContractTarget) -> AsyncIterator[ContractTarget]:
        """The subclass's target; what a test leaves running is cancelled after it."""
        try:
            yield contract_target
        finally:
            await cancel_and_close(contract_target.client)

    async def test_job_succeeds_and_its_output_is_in_the_log(self, target: ContractTarget) -> None:
        result = await target.client.run(target.spec("echo hello from the job"))
        assert result.state is JobState.SUCCEEDED
        assert result.status.exit_code in (0, None)
        lines = [line.text for line in await target.client.tail_logs(result.ref, n=50)]
        assert "hello from the job" in lines

    async def test_nonzero_exit_fails_with_exit_code_and_last_log_lines(
        self, target: ContractTarget
    ) -> None:
        spec = target.spec("echo step one; echo 'disk is full' >&2; exit 3")
        with pytest.raises(JobFailed) as info:
            await target.client.run(spec)
        assert info.value.status.state is JobState.FAILED
        assert info.value.status.exit_code == 3
        assert "exit code 3" in str(info.value)
        assert "disk is full" in str(info.value)

    async def test_cancel_running_job_kills_its_whole_process_group(
        self, target: ContractTarget, tmp_path: Path
    ) -> None:
        pidfile = tmp_path / "pid"
        ref = await target.client.submit(
            target.spec(f"echo $$ > {pidfile}; sleep 60 & sleep 60; wait")
        )
        await target.client.wait(ref, until=JobState.RUNNING)
        pgid = os.getpgid(int(await _wait_for_file(pidfile)))
        for _ in range(250):  # the shell wrote its pid before it forked (slow on a busy machine)
            if len(group_members(pgid)) >= 2:
                break
            await asyncio.sleep(0.02)
        assert len(group_members(pgid)) >= 2, "the job should have a child process"
        await target.client.cancel(ref)
        with pytest.raises(JobCancelled):
            await target.client.wait(ref)
        assert await group_gone_within(pgid, 5.0), f"processes left: {group_members(pgid)}"

    async def test_cancel_queued_job_takes_it_off_the_queue(
        self, target: ContractTarget, tmp_path: Path
    ) -> None:
        if target.make_blocked_queue is None:
            pytest.skip(f"{target.name} has no queue the suite can hold closed")
        queue = await target.make_blocked_queue()
        marker = tmp_path / "ran"
        ref = await target.client.submit(target.spec(f"touch {marker}", queue=queue))
        assert (await target.client.status(ref)).state is JobState.QUEUED
        await target.client.cancel(ref)
        assert (await target.client.status(ref)).state is JobState.CANCELLED
        await target.client.cancel(ref)  # idempotent
        await asyncio.sleep(0.3)
        assert not marker.exists()

    async def test_cancelling_a_finished_job_changes_nothing(self, target: ContractTarget) -> None:
        result = await target.client.run(target.spec("true"))
        await target.client.cancel(result.ref)
        assert (await target.client.status(result.ref)).state is JobState.SUCCEEDED

    async def test_queue_timeout_cancels_the_job_and_names_the_phase(
        self, target: ContractTarget
    ) -> None:
        if target.make_blocked_queue is None:
            pytest.skip(f"{target.name} has no queue the suite can hold closed")
        queue = await target.make_blocked_queue()
        ref = await target.client.submit(target.spec("true", queue=queue))
        with pytest.raises(JobTimeout) as info:
            await target.client.wait(ref, queue_timeout=0.5)
        assert info.value.phase == "queue"
        assert (await target.client.status(ref)).state is JobState.CANCELLED

    async def test_run_timeout_cancels_the_running_job(
        self, target: ContractTarget, tmp_path: Path
    ) -> None:
        pidfile = tmp_path / "pid"
        ref = await target.client.submit(target.spec(f"echo $$ > {pidfile}; sleep 60"))
        # The job's shell is up (a platform may report RUNNING a moment before its process
        # starts; on a loaded machine that moment can outlast the limit).
        pgid = int(await _wait_for_file(pidfile))
        started = time.monotonic()
        with pytest.raises(JobTimeout) as info:
            await target.client.wait(ref, run_timeout=1.0)
        assert info.value.phase == "run"
        assert time.monotonic() - started < 20
        final = await target.client.wait(ref, raise_on_failure=False)
        assert final.state is JobState.CANCELLED
        assert await group_gone_within(pgid, 5.0)

    async def test_idempotent_submit_reattaches_to_the_active_job(
        self, target: ContractTarget
    ) -> None:
        spec = target.spec("sleep 2", idempotency_key="contract-reattach")
        first = await target.client.submit(spec)
        second = await target.client.submit(spec)
        assert not first.reattached
        assert second.reattached
        assert second.id == first.id
        await target.client.wait(second)
        third = await target.client.submit(spec)  # succeeded: reattach, never run again
        assert third.reattached
        assert third.id == first.id

    async def test_idempotent_submit_resubmits_after_a_failure(
        self, target: ContractTarget
    ) -> None:
        spec = target.spec("exit 1", idempotency_key="contract-resubmit")
        first = await target.client.submit(spec)
        await target.client.wait(first, raise_on_failure=False)
        second = await target.client.submit(spec)
        assert not second.reattached
        assert second.id != first.id
        assert second.idempotency_key == "contract-resubmit#2"

    async def test_following_logs_from_saved_cursors_gives_no_duplicate_and_no_gap(
        self, target: ContractTarget
    ) -> None:
        count = 600
        ref = await target.client.submit(
            target.spec(
                f"i=1; while [ $i -le {count} ]; do echo line-$i; "
                "if [ $((i % 100)) -eq 0 ]; then sleep 0.2; fi; i=$((i+1)); done"
            )
        )
        seen: list[str] = []
        cursor: str | None = None
        # Follow in short sessions, as a restarted trigger or a retried task would.
        for _ in range(500):
            # follow_logs is an async generator (typed as an iterator): close it at once.
            following = cast(AsyncGenerator[LogPage], target.client.follow_logs(ref, cursor))
            async with contextlib.aclosing(following) as pages:
                page = await anext(pages, None)  # one page, then stop and resume from the cursor
            if page is None:
                break
            seen.extend(line.text for line in page.lines if line.text.startswith("line-"))
            cursor = page.cursor
        assert seen == [f"line-{i}" for i in range(1, count + 1)]

    @pytest.mark.parametrize(
        ("mode", "expected"),
        [("FIFO", ["a", "b", "c"]), ("LIFO", ["c", "b", "a"]), ("PRIORITY", ["b", "c", "a"])],
    )
    async def test_queue_order(
        self, target: ContractTarget, tmp_path: Path, mode: str, expected: list[str]
    ) -> None:
        if target.ordered_queue is None:
            pytest.skip(f"{target.name} has no queue modes")
        queue = await target.ordered_queue(mode, 1)
        order = tmp_path / "order"
        gate = tmp_path / "gate"
        blocker = await target.client.submit(
            target.spec(f"while [ ! -e {gate} ]; do sleep 0.02; done", queue=queue)
        )
        await target.client.wait(blocker, until=JobState.RUNNING)
        refs = [
            await target.client.submit(
                target.spec(f"echo {name} >> {order}", queue=queue, priority=priority)
            )
            for name, priority in (("a", 1), ("b", 9), ("c", 5))
        ]
        positions = [(await target.client.status(r)).queue_position for r in refs]
        assert sorted(p for p in positions if p is not None) == [1, 2, 3]
        gate.touch()
        for ref in refs:
            await target.client.wait(ref)
        assert order.read_text().split() == expected

    async def test_max_concurrency_is_respected(
        self, target: ContractTarget, tmp_path: Path
    ) -> None:
        if target.ordered_queue is None:
            pytest.skip(f"{target.name} has no queue modes")
        queue = await target.ordered_queue("FIFO", 2)
        log = tmp_path / "spans"
        script = f"echo start $(date +%s.%N) >> {log}; sleep 0.4; echo end $(date +%s.%N) >> {log}"
        refs = [await target.client.submit(target.spec(script, queue=queue)) for _ in range(5)]
        await asyncio.gather(*(target.client.wait(r) for r in refs))
        events = sorted(
            (float(t), +1 if kind == "start" else -1)
            for kind, t in (line.split() for line in log.read_text().splitlines())
        )
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        assert peak == 2

    async def test_many_statuses_in_one_platform_call(self, target: ContractTarget) -> None:
        refs = [await target.client.submit(target.spec("true")) for _ in range(5)]
        before = len(target.counting.status_calls)
        found = await target.client.statuses(refs)
        assert set(found) == {r.id for r in refs}
        assert target.counting.status_calls[before:] == [5]

    async def test_concurrent_waiters_share_status_calls(self, target: ContractTarget) -> None:
        refs = [await target.client.submit(target.spec("sleep 1")) for _ in range(8)]
        before = len(target.counting.status_calls)
        await asyncio.gather(*(target.client.wait(r) for r in refs))
        calls = target.counting.status_calls[before:]
        assert calls, "waiting made no status calls"
        assert max(calls) == 8, "one call should ask for every waiting job"

    async def test_followers_with_waiters_read_no_job_state_of_their_own(
        self, target: ContractTarget, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """N waits following their logs cost the hub's status calls only: a log read never
        asks for its job's state (1,000 deferred tasks on a triggerer are 1,000 followers)."""
        inner = target.counting.inner
        reading_logs: contextvars.ContextVar[bool] = contextvars.ContextVar("logs", default=False)
        from_logs: list[str] = []

        def counted(name: str) -> Callable[..., Awaitable[Any]]:
            real = getattr(inner, name)

            async def read(*args: Any, **kwargs: Any) -> Any:
                if reading_logs.get():
                    from_logs.append(name)
                return await real(*args, **kwargs)

            return read

        for name in target.state_reads:
            monkeypatch.setattr(inner, name, counted(name))
        real_logs = inner.logs

        async def logs(*args: Any, **kwargs: Any) -> Any:
            inside = reading_logs.set(True)  # reads made from here on are the log read's own
            try:
                return await real_logs(*args, **kwargs)
            finally:
                reading_logs.reset(inside)

        monkeypatch.setattr(inner, "logs", logs)
        script = "for i in $(seq 1 8); do echo line-$i; sleep 0.2; done"
        refs = [await target.client.submit(target.spec(script)) for _ in range(4)]
        seen: dict[str, list[str]] = {r.id: [] for r in refs}

        def collect(update: JobUpdate) -> None:
            lines = [line.text for line in update.lines if line.text.startswith("line-")]
            seen[update.status.ref.id].extend(lines)

        results = await asyncio.gather(
            *(target.client.wait(r, follow_logs=True, on_update=collect, timeout=60) for r in refs)
        )

        assert all(r.state is JobState.SUCCEEDED for r in results)
        assert all(lines == [f"line-{i}" for i in range(1, 9)] for lines in seen.values()), seen
        assert from_logs == [], f"log reads asked for the job's state {len(from_logs)} times"

    @pytest.mark.parametrize("shape", ["done-before-the-first-status", "printed-over-time"])
    async def test_follow_logs_delivers_every_line_once_with_status_calls_slow_and_failing(
        self, target: ContractTarget, shape: str
    ) -> None:
        lines = 30
        script = f"for i in $(seq 1 {lines}); do echo line-$i; done"
        if shape == "printed-over-time":
            script = f"for i in $(seq 1 {lines}); do echo line-$i; sleep 0.05; done"
        if target.inject_status_faults is not None:  # the platform's own status endpoint too
            target.inject_status_faults()
        flaky = SlowFailingStatus(target.counting.inner)
        client = AsyncClient(flaky, poll=PollPolicy(initial_s=0.05, max_s=0.3))
        seen: list[str] = []

        def collect(update: JobUpdate) -> None:
            seen.extend(line.text for line in update.lines if line.text.startswith("line-"))

        ref = await client.submit(target.spec(script))
        result = await client.wait(ref, follow_logs=True, on_update=collect, timeout=60)

        assert result.state is JobState.SUCCEEDED
        assert seen == [f"line-{i}" for i in range(1, lines + 1)]
        assert flaky.calls >= 2  # the status calls really were slow and failing

    async def test_the_owner_of_a_job_reads_back_from_the_job_list(
        self, target: ContractTarget
    ) -> None:
        # What a sweep and `jobrelay ls` read: the platform keeps the owner with the job. A
        # long identity (Airflow allows 250-character ids) with ':' and '%' in it round-trips
        # whole.
        owner = Owner(
            "airflow",
            "inst-1",
            ("etl_" + "d" * 200, "manual__2026-12-07T00:00:00+00:00", "train%1", "-1", "2"),
        )
        plain = await target.client.submit(target.spec("sleep 30"))
        owned = await target.client.submit(target.spec("sleep 30", owner=str(owner)))
        try:
            listed = {s.ref.id: s for s in await target.client.list_jobs(limit=10)}
            assert listed[owned.id].owner == str(owner)
            assert Owner.parse(listed[owned.id].owner or "") == owner
            assert listed[plain.id].owner is None
        finally:
            await target.client.cancel(owned)
            await target.client.cancel(plain)
