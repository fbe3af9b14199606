"""Waiters on the local platform see a state change when it is recorded, not at their next
poll: agents (and clients cancelling a queued job) announce each change through the pipes
in ``<home>/watchers/``, and the status hub ticks on it."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, JobState, PollPolicy
from jobrelay.platforms.local import wake

from tests.platforms.conftest import kill_local_agents

# A poll so slow that only an announcement can explain a prompt answer.
SLOW = PollPolicy(initial_s=30.0, max_s=30.0, jitter=0.0)


async def test_a_waiter_polling_every_30_s_sees_the_end_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        async with AsyncClient(f"local://{home}", poll=SLOW) as client:
            await client.run(JobSpec(entrypoint="true"))  # the agent is up
            ref = await client.submit(JobSpec(entrypoint="sleep 0.5"))
            began = time.monotonic()
            result = await asyncio.wait_for(client.wait(ref), 20)
            assert result.state is JobState.SUCCEEDED
            assert time.monotonic() - began < 10  # the poll alone: 30 s
        # Its pipe went with its hub.
        assert list(wake.watchers_dir(home).iterdir()) == []
    finally:
        kill_local_agents(home)


@pytest.mark.slow  # a CLI process
async def test_a_cancel_from_another_process_reaches_the_waiter_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"local://{home}"
    try:
        async with AsyncClient(url, poll=SLOW) as client:
            await client.create_queue("held", max_concurrency=1)
            await client.submit(JobSpec(entrypoint="sleep 60", queue="held"))
            queued = await client.submit(JobSpec(entrypoint="true", queue="held"))
            waiting = asyncio.create_task(client.wait(queued, raise_on_failure=False))
            await asyncio.sleep(1.0)  # the waiter's first tick has been and gone
            began = time.monotonic()
            cancel = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "jobrelay", "cancel", queued.id, "-p", url
            )
            assert await cancel.wait() == 0
            result = await asyncio.wait_for(waiting, 20)
            assert result.state is JobState.CANCELLED
            assert time.monotonic() - began < 15
    finally:
        kill_local_agents(home)


def test_an_announcement_clears_the_pipe_of_a_process_that_died(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    alive = wake.ChangeListener(home)
    dead = wake.ChangeListener(home)
    # As if its process were killed: the read and write ends close, the pipe stays.
    os.close(dead._read_fd)
    os.close(dead._keep_fd)
    try:
        wake.announce(home)
        assert os.read(alive.fileno(), 16) == b"!"
        assert sorted(wake.watchers_dir(home).iterdir()) == [alive.path]
        for _ in range(100_000):  # a full pipe neither blocks nor raises
            wake.announce(home)
    finally:
        alive.close()
    assert list(wake.watchers_dir(home).iterdir()) == []
