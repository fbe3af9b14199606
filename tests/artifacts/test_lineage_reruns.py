"""A rerun in the same jobrelay home: identical output bytes are the version an earlier job
stored (its producer stays that job), and lineage says so instead of naming the earlier
job as if it had run now."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, PollPolicy
from jobrelay.artifacts import earlier_producer

from tests.platforms.conftest import kill_local_agents

WRITE_MODEL = (
    "from pathlib import Path; from jobrelay import runtime; "
    "Path('model.bin').write_bytes(b'weights'); runtime.log_output('model', 'model.bin')"
)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    home = tmp_path / "home"
    async with AsyncClient(f"local://{home}", poll=PollPolicy(initial_s=0.05, max_s=0.3)) as c:
        yield c
    kill_local_agents(home)


async def test_a_rerun_s_identical_output_names_the_job_that_first_stored_it(
    client: AsyncClient, tmp_path: Path
) -> None:
    job = JobSpec(entrypoint=[sys.executable, "-c", WRITE_MODEL], working_dir=str(tmp_path))
    first = await client.run(job)
    rerun = await client.run(job)

    made_first, made_again = first.outputs["model"], rerun.outputs["model"]
    assert made_again.version == made_first.version == "v1"  # one version per content
    assert made_again.producer == first.ref
    assert earlier_producer(made_first, first.ref) is None
    assert earlier_producer(made_again, rerun.ref) == first.ref


async def test_different_bytes_are_a_new_version_of_the_rerun_s_own(
    client: AsyncClient, tmp_path: Path
) -> None:
    where = str(tmp_path)
    first = await client.run(
        JobSpec(entrypoint=[sys.executable, "-c", WRITE_MODEL], working_dir=where)
    )
    other = WRITE_MODEL.replace("b'weights'", "b'other weights'")
    rerun = await client.run(JobSpec(entrypoint=[sys.executable, "-c", other], working_dir=where))
    assert rerun.outputs["model"].version == "v2"
    assert earlier_producer(rerun.outputs["model"], rerun.ref) is None
    assert earlier_producer(first.outputs["model"], first.ref) is None


def demo(home: Path) -> str:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    env.pop("JOBRELAY_PLATFORM", None)
    done = subprocess.run(
        [sys.executable, "-m", "jobrelay", "demo", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout[done.stdout.index("artifact lineage") :]


@pytest.mark.slow  # two demo runs: about 15 s
def test_the_demo_s_lineage_after_a_rerun_says_same_bytes_as_the_earlier_run(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    try:
        first = demo(home)
        second = demo(home)
    finally:
        kill_local_agents(home)
    assert "same bytes as" not in first
    assert "$JOBRELAY_HOME" in first  # the table says where its store is and that it is shared
    rows = [line for line in second.splitlines() if ":v1" in line]
    assert rows, second
    for row in rows:
        # This run's job made it, and the table says whose version it is.
        assert "same bytes as " in row, second
        assert "(an earlier run)" in row, second
    assert "of earlier runs" in second  # the first run's readers, counted apart
