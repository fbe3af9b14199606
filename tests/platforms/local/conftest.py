"""Fixtures for the local platform's own tests: a fresh home per test, real agents.

Every agent a test starts (by hand or through autostart) is SIGKILLed at teardown, and
every job process group still recorded as running is killed too, so nothing outlives a test.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from jobrelay.models import JobRef, JobState, JobStatus
from jobrelay.platforms.local import LocalPlatform, open_platform
from jobrelay_emulators.local_home import stop_local_home


def db_rows(home: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Read the home's database directly (what another process would see)."""
    with sqlite3.connect(home / "jobrelay.db") as conn:
        return conn.execute(sql, params).fetchall()


def _cleanup(home: Path, started: list[subprocess.Popen[bytes]]) -> None:
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    stop_local_home(home)


@pytest.fixture
def started_agents() -> list[subprocess.Popen[bytes]]:
    return []


@pytest.fixture
def home(tmp_path: Path, started_agents: list[subprocess.Popen[bytes]]) -> Iterator[Path]:
    """A fresh platform home; every agent and job process of it is killed at teardown."""
    path = tmp_path / "home"
    try:
        yield path
    finally:
        _cleanup(path, started_agents)


@pytest.fixture
def start_agent(
    home: Path, started_agents: list[subprocess.Popen[bytes]]
) -> Callable[..., subprocess.Popen[bytes]]:
    """Start an agent for the home by hand, e.g. ``start_agent("--cancel-grace", "0.5")``."""

    def start(*args: str) -> subprocess.Popen[bytes]:
        home.mkdir(parents=True, exist_ok=True)
        with (home.parent / "agent-stderr.log").open("ab") as log:
            proc = subprocess.Popen(
                [
                    *[sys.executable, "-m", "jobrelay.platforms.local.agent"],
                    *["--home", str(home), "--idle-timeout", "20", *args],
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        started_agents.append(proc)
        return proc

    return start


@pytest.fixture
async def platform(home: Path) -> AsyncIterator[LocalPlatform]:
    """A platform that starts its own agent on submit (idle timeout 10 s)."""
    p = await open_platform(f"local://{home}?idle_timeout=10")
    yield p
    await p.aclose()


@pytest.fixture
async def manual(home: Path) -> AsyncIterator[LocalPlatform]:
    """A platform that never starts an agent: jobs stay queued until a test starts one."""
    p = await open_platform(f"local://{home}?autostart=0")
    yield p
    await p.aclose()


async def wait_for(
    platform: LocalPlatform,
    ref: JobRef,
    check: Callable[[JobStatus], bool] = lambda s: s.state.is_terminal,
    timeout: float = 15.0,
) -> JobStatus:
    """Poll until ``check(status)`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    status = await platform.status(ref)
    while not check(status):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; last status: {status}")
        await asyncio.sleep(0.02)
        status = await platform.status(ref)
    return status


def running(status: JobStatus) -> bool:
    return status.state is JobState.RUNNING


def job_pgid(home: Path, job_id: str) -> int:
    (pgid,) = db_rows(home, "SELECT pgid FROM jobs WHERE id = ?", job_id)[0]
    assert pgid is not None
    return int(str(pgid))


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """True as soon as ``predicate()`` holds; False if it still fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
