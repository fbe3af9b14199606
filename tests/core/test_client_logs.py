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
