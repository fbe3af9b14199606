"""A third-party platform through the shipped contract kit, as its author would run it.

``ShellPlatform`` is a whole platform written here: each job a shell command in a process
group of its own on this machine, registered as ``shellproc://`` with ``register_platform``.
It imports only what ``jobrelay`` and ``jobrelay.platforms`` declare, and the kit only from
``jobrelay_emulators.contract``. ``TestShellPlatform`` runs the kit against it; a variant
whose cancel leaves the job's processes running fails the kit's cancel test (run in a pytest
of its own, as the author would see it).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from jobrelay import (
    ConflictError,
    JobRef,
    JobSpec,
    JobState,
    JobStatus,
    LogLine,
    LogPage,
    PollPolicy,
)
from jobrelay.platforms import Capabilities, Platform, open_platform, register_platform
from jobrelay_emulators.contract import ContractTarget, PlatformContract, counted_client

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class _Job:
    ref: JobRef
    spec: JobSpec
    process: subprocess.Popen[bytes]
    log: Path
    submitted_at: datetime
    cancelled: bool = False


def _start(command: str, log: Path) -> subprocess.Popen[bytes]:
    """``sh -c command`` as the leader of a new process group (a cancel kills all of it),
    stdout and stderr into ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["sh", "-c", command],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


class ShellPlatform:
    """Runs each job's entrypoint with ``sh -c`` as the leader of a new process group,
    stdout and stderr into one log file under the URL's folder; everything in memory."""

    name = "shellproc"
    capabilities = Capabilities(
        env=False,
        working_dir=False,
        owners=True,
        batch_status=True,
        poll=PollPolicy(initial_s=0.02, max_s=0.2),
    )

    def __init__(self, url: str) -> None:
        self.url = url
        self._folder = Path(urlsplit(url).path)
        self._folder.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, _Job] = {}
        self._ids = itertools.count(1)

    async def submit(self, spec: JobSpec) -> JobRef:
        key = spec.idempotency_key
        if key is not None and await self.find(key) is not None:
            raise ConflictError(f"a job with idempotency key {key!r} exists")
        job_id = f"sh-{next(self._ids)}"
        log = self._folder / f"{job_id}.log"
        ref = JobRef(platform=self.url, id=job_id, idempotency_key=key)
        self._jobs[job_id] = _Job(ref, spec, _start(spec.entrypoint, log), log, datetime.now(UTC))
        return ref

    async def find(self, idempotency_key: str) -> JobRef | None:
        for job in self._jobs.values():
            if job.ref.idempotency_key == idempotency_key:
                return job.ref
        return None

    async def status(self, ref: JobRef) -> JobStatus:
        job = self._jobs[ref.id]
        code = job.process.poll()
        if job.cancelled:
            state = JobState.CANCELLED
        elif code is None:
            state = JobState.RUNNING
        else:
            state = JobState.SUCCEEDED if code == 0 else JobState.FAILED
        return JobStatus(
            ref=job.ref,
            name=job.spec.name,
            state=state,
            platform_state=state.value.lower(),
            exit_code=code if code is not None and code >= 0 else None,
            submitted_at=job.submitted_at,
            owner=job.spec.owner,
        )

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        return {ref.id: await self.status(ref) for ref in refs if ref.id in self._jobs}

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        if terminal is None:
            terminal = (await self.status(ref)).state.is_terminal
        # The state is read before the file: a terminal job's file is complete.
        offset = int(cursor or 0)
        with self._jobs[ref.id].log.open("rb") as log:
            log.seek(offset)
            data = log.read()
        if not terminal:  # a line still being written waits for its newline
            data = data[: data.rfind(b"\n") + 1]
        lines = [LogLine(text=text) for text in data.decode(errors="replace").splitlines()]
        return LogPage(lines=lines, cursor=str(offset + len(data)), done=terminal)

    async def cancel(self, ref: JobRef) -> None:
        job = self._jobs[ref.id]
        if job.process.poll() is None and not job.cancelled:
            job.cancelled = True
            await self._stop(job)

    async def _stop(self, job: _Job) -> None:
        """Kill the job's whole process group and reap its shell."""
        try:
            os.killpg(job.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        await asyncio.to_thread(job.process.wait)

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        newest = list(reversed(self._jobs.values()))[:limit]
        return [await self.status(job.ref) for job in newest]

    async def aclose(self) -> None:
        """Stop every job still running: nothing outlives the platform object."""
        for job in self._jobs.values():
            await self._stop(job)


class OrphaningShellPlatform(ShellPlatform):
    """The bug the kit is there to catch: a cancel that reports the job cancelled and
    leaves its processes running."""

    name = "shellproc-orphaning"

    async def cancel(self, ref: JobRef) -> None:
        job = self._jobs[ref.id]
        if job.process.poll() is None:
            job.cancelled = True


async def open_shell(url: str, **options: Any) -> Platform:
    return ShellPlatform(url)


async def open_orphaning_shell(url: str, **options: Any) -> Platform:
    return OrphaningShellPlatform(url)


register_platform("shellproc", open_shell)
register_platform("shellproc-orphaning", open_orphaning_shell)


class TestShellPlatform(PlatformContract):
    """The whole kit against ``shellproc://``; it has no queues, so the queue tests skip."""

    pytestmark = pytest.mark.timeout(90)

    @pytest_asyncio.fixture
    async def contract_target(self, tmp_path: Path) -> AsyncIterator[ContractTarget]:
        platform = await open_platform(f"shellproc://{tmp_path / 'jobs'}")
        client, counting = counted_client(platform)
        yield ContractTarget("shellproc", client, counting)


class BrokenCancelContract(PlatformContract):
    """The kit against the orphaning variant (collected only by the test below)."""

    @pytest_asyncio.fixture
    async def contract_target(self, tmp_path: Path) -> AsyncIterator[ContractTarget]:
        platform = await open_platform(f"shellproc-orphaning://{tmp_path / 'jobs'}")
        client, counting = counted_client(platform)
        yield ContractTarget("shellproc-orphaning", client, counting)


@pytest.mark.slow  # a pytest of its own, and the kit's 5 s wait for the group to go
def test_a_platform_whose_cancel_leaves_processes_running_fails_the_kit(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"{__file__}::BrokenCancelContract",
            "-o",
            "python_classes=BrokenCancelContract",
            "-k",
            "cancel_running_job or cancelling_a_finished_job",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in summary, done.stdout
    assert "FAILED" in done.stdout
    assert "test_cancel_running_job_kills_its_whole_process_group" in done.stdout
    assert "processes left" in done.stdout


def test_the_kit_declares_the_names_an_author_imports() -> None:
    import jobrelay_emulators.contract as kit

    assert sorted(kit.__all__) == [
        "ContractTarget",
        "CountingPlatform",
        "PlatformContract",
        "SlowFailingStatus",
        "SpecBuilder",
        "cancel_and_close",
        "counted_client",
        "group_gone_within",
        "group_members",
        "shell_spec",
    ]
    assert [name for name in kit.__all__ if not hasattr(kit, name)] == []
