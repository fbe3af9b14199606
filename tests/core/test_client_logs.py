"""Following logs while waiting: every line reaches the callback once, in order."""

from __future__ import annotations

from pathlib import Path

from jobrelay import AsyncClient, JobSpec
from jobrelay.waiting import JobUpdate

from tests.platforms.conftest import kill_local_agents


async def test_lines_written_before_the_first_status_are_not_lost(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        async with AsyncClient(f"local://{home}") as client:
            for _ in range(5):
                ref = await client.submit(JobSpec(entrypoint="echo one; echo two"))
                # The job is done before anyone waits: the first page holds every line.
                await client.wait(ref)
                seen: list[str] = []

                def collect(update: JobUpdate, seen: list[str] = seen) -> None:
                    seen.extend(line.text for line in update.lines)

                await client.wait(ref, follow_logs=True, on_update=collect)
                assert seen == ["one", "two"]
    finally:
        kill_local_agents(home)


async def test_read_logs_drains_what_is_written_after_a_cursor(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        async with AsyncClient(f"local://{home}") as client:
            result = await client.run(JobSpec(entrypoint="for i in 1 2 3 4; do echo l$i; done"))
            pages = [page async for page in client.read_logs(result.ref)]
            assert [line.text for p in pages for line in p.lines] == ["l1", "l2", "l3", "l4"]
            # From the last cursor there is nothing new: no line comes twice.
            assert [page async for page in client.read_logs(result.ref, pages[-1].cursor)] == []
    finally:
        kill_local_agents(home)
