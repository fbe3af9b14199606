"""Two client processes submitting at the same moment against one home."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from jobrelay.models import JobRef, JobState
from jobrelay.platforms.local import LocalPlatform

from .conftest import db_rows

pytestmark = pytest.mark.timeout(60)

_SUBMITTER = """
import asyncio, json, sys, time
from jobrelay.models import JobSpec
from jobrelay.platforms.local import open_platform

async def main(home, runs, start_at, tag):
    platform = await open_platform(f"local://{home}?idle_timeout=10")
    time.sleep(max(0.0, start_at - time.time()))
    specs = [
        JobSpec(entrypoint=f'echo "$JOBRELAY_JOB_ID" >> {runs}', name=f"{tag}-{i}")
        for i in range(50)
    ]
    refs = await asyncio.gather(*(platform.submit(spec) for spec in specs))
    print(json.dumps([ref.id for ref in refs]))
    await platform.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]))
"""


async def test_two_processes_submitting_at_once_run_every_job_exactly_once(
    platform: LocalPlatform, home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "submit.py"
    script.write_text(_SUBMITTER)
    runs = tmp_path / "runs"
    start_at = time.time() + 1.5  # both are past their imports by then
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            str(home),
            str(runs),
            str(start_at),
            tag,
            stdout=asyncio.subprocess.PIPE,
        )
        for tag in ("a", "b")
    ]
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    ids = [job_id for out, _ in outputs for job_id in json.loads(out)]
    assert len(set(ids)) == 100

    refs = [JobRef(platform=platform.url, id=job_id) for job_id in ids]

    deadline = time.monotonic() + 40
    while True:
        statuses = await platform.statuses(refs)
        if all(s.state.is_terminal for s in statuses.values()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert Counter(s.state for s in statuses.values()) == {JobState.SUCCEEDED: 100}
    assert {s.attempt for s in statuses.values()} == {1}
    assert Counter(runs.read_text().split()) == Counter({job_id: 1 for job_id in ids})
    assert db_rows(home, "SELECT COUNT(*) FROM attempts") == [(100,)]
    # The spawn lock kept the two clients from starting two agents at once.
    assert db_rows(home, "SELECT COUNT(DISTINCT agent_id) FROM attempts") == [(1,)]
