"""Record completeness (issue 26): after a job runs, its status carries every field its
platform knows, and the run record an orchestrator stores (``integration.run_record``) has
``queued_s``, ``ran_s`` and ``url`` wherever the platform can give them. What a platform
cannot give is named in ``KNOWS`` (and in the README's record table).

Every test runs against each target in ``conftest.TARGETS`` unchanged.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from jobrelay import JobState
from jobrelay.integration import run_record

from .conftest import Target

pytestmark = pytest.mark.timeout(90)

# What each platform knows of a finished job (the queue of a queued one: the next test).
# Ray records when a job was submitted and when it ended, not when its entrypoint started.
KNOWS: dict[str, frozenset[str]] = {
    "local": frozenset({"submitted", "started", "ended", "exit_code", "url"}),
    "ray": frozenset({"submitted", "ended", "exit_code", "url"}),
    "wandb": frozenset({"submitted", "started", "ended", "exit_code", "url"}),
    "anyscale": frozenset({"submitted", "started", "ended", "exit_code", "url"}),
    "fused": frozenset({"submitted", "started", "ended", "exit_code", "url"}),
}
# A second of clock skew between the client and the platform is allowed.
SKEW = timedelta(seconds=1)


async def test_a_finished_job_carries_every_field_its_platform_knows(target: Target) -> None:
    knows = KNOWS[target.name]
    before = time.time()
    result = await target.client.run(target.spec("echo started; sleep 1; echo done"))
    after = time.time()
    status = result.status
    assert result.state is JobState.SUCCEEDED
    given = {
        "submitted": status.submitted_at,
        "started": status.started_at,
        "ended": status.ended_at,
        "exit_code": status.exit_code,
        "url": status.url,
    }
    missing = sorted(name for name in knows if given[name] is None)
    assert missing == [], f"{target.name} knows but did not fill: {missing}"
    assert status.exit_code == 0

    record = run_record(result)
    assert (record["queued_s"] is not None) == ({"submitted", "started"} <= knows)
    assert (record["ran_s"] is not None) == ({"started", "ended"} <= knows)
    assert record["url"] is not None
    assert record["url"] == status.url
    times = [t for t in (status.submitted_at, status.started_at, status.ended_at) if t]
    assert times == sorted(times), times
    assert before - SKEW.total_seconds() <= times[0].timestamp()
    assert times[-1].timestamp() <= after + SKEW.total_seconds()
    if record["queued_s"] is not None:
        assert 0 <= record["queued_s"] < after - before + 1
    if record["ran_s"] is not None:
        # the job slept a second between its two lines
        assert 0.8 <= record["ran_s"] <= after - before + 1


async def test_a_queued_job_names_its_queue_and_position(target: Target) -> None:
    if target.make_blocked_queue is None:
        pytest.skip(f"{target.name} has no queues")
    queue = await target.make_blocked_queue()
    first = await target.client.submit(target.spec("echo one", queue=queue))
    second = await target.client.submit(target.spec("echo two", queue=queue))
    try:
        deadline = time.monotonic() + 20
        while True:
            statuses = [await target.client.status(r) for r in (first, second)]
            if all(s.queue_position is not None for s in statuses) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert [s.state for s in statuses] == [JobState.QUEUED, JobState.QUEUED]
        assert [s.queue for s in statuses] == [queue, queue]
        positions = [s.queue_position for s in statuses]
        assert all(isinstance(p, int) for p in positions), positions
        assert positions[0] < positions[1]  # type: ignore[operator]
        assert all(s.submitted_at is not None for s in statuses)
        assert all(s.started_at is None and s.ended_at is None for s in statuses)
    finally:
        await target.client.cancel(first)
        await target.client.cancel(second)
