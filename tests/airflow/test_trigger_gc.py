"""``JobTrigger`` freezes Airflow's idle heap once, in Airflow's trigger runner and nowhere else.

Each case runs in a fresh Python process (a freeze would stay in pytest's own heap): the
trigger's ``run()`` on a loop of its own (as a test or a task worker would), then two
triggers through the real ``TriggerRunner.run_trigger`` of Airflow's triggerer, each waiting
on a real local job.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from jobrelay import Client, JobSpec

from .conftest import PLATFORM_HOME

SCRIPT = """
import asyncio, gc, json, sys

freezes = []
_freeze = gc.freeze

def counted_freeze():
    freezes.append(gc.get_count())
    _freeze()

gc.freeze = counted_freeze

from airflow_jobrelay.triggers import JobTrigger

refs = json.loads(sys.argv[1])
report = {}

async def alone():
    return [e.payload["outcome"] async for e in JobTrigger(job=refs[0], poll_interval=0.05).run()]

report["alone"] = asyncio.run(alone())
report["frozen_after_alone"] = gc.get_freeze_count()
report["freezes_after_alone"] = len(freezes)

async def in_runner():
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    runner = TriggerRunner()
    for trigger_id, ref in enumerate(refs[1:], start=1):
        runner.triggers[trigger_id] = {"task": None, "is_watcher": False, "name": f"t{trigger_id}",
                                       "events": 0}
        await runner.run_trigger(trigger_id, JobTrigger(job=ref, poll_interval=0.05))
    return [entry.event.payload["outcome"] for entry in runner.events]

report["in_runner"] = asyncio.run(in_runner())
report["frozen"] = gc.get_freeze_count()
report["freezes"] = len(freezes)
print("REPORT " + json.dumps(report))
"""


@pytest.fixture
def refs() -> Iterator[list[dict[str, object]]]:
    with Client(f"local://{PLATFORM_HOME}") as client:
        yield [client.submit(JobSpec(entrypoint="true")).model_dump(mode="json") for _ in range(3)]


def _run(refs: list[dict[str, object]]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(refs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("REPORT ")]
    report: dict[str, object] = json.loads(line.removeprefix("REPORT "))
    return report


@pytest.mark.slow
def test_the_idle_heap_is_frozen_once_and_only_in_the_trigger_runner(
    refs: list[dict[str, object]],
) -> None:
    report = _run(refs)

    # A trigger run on a loop of its own (a test, a worker) leaves the collector alone.
    assert report["alone"] == ["succeeded"]
    assert (report["freezes_after_alone"], report["frozen_after_alone"]) == (0, 0)
    # In Airflow's trigger runner the first trigger freezes the heap, the second does not.
    assert report["in_runner"] == ["succeeded", "succeeded"]
    assert report["freezes"] == 1
    # What is frozen is Airflow's imported heap (over 100,000 objects), not a few.
    assert isinstance(report["frozen"], int)
    assert report["frozen"] > 100_000


def test_a_trigger_in_this_process_freezes_nothing() -> None:
    """The test process itself (not a trigger runner): the check finds no runner frame."""
    import gc

    from airflow_jobrelay._gc import freeze_idle_heap_once

    before = gc.get_freeze_count()
    assert freeze_idle_heap_once() is False
    assert gc.get_freeze_count() == before
