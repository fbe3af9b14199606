"""A waiter reports a job's final state after the last line it delivers (issue 26), and a
job's stderr lines reach Prefect at the level of its stdout lines on every platform.

Every test runs against each target in ``conftest.TARGETS`` unchanged.
"""

from __future__ import annotations

import logging

import pytest
from jobrelay import JobState
from jobrelay.waiting import JobUpdate

from .conftest import Target

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("shape", ["burst-at-the-end", "printed-over-time"])
async def test_the_final_state_comes_after_the_last_line(target: Target, shape: str) -> None:
    lines = 40
    script = f"sleep 0.5; for i in $(seq 1 {lines}); do echo line-$i; done"
    if shape == "printed-over-time":
        script = f"for i in $(seq 1 {lines}); do echo line-$i; sleep 0.02; done"
    events: list[str] = []

    def collect(update: JobUpdate) -> None:
        if update.kind == "log":
            events.extend(line.text for line in update.lines if line.text.startswith("line-"))
        elif update.kind == "state":
            events.append(f"state:{update.status.state.value}")

    ref = await target.client.submit(target.spec(script))
    result = await target.client.wait(ref, follow_logs=True, on_update=collect, timeout=60)

    assert result.state is JobState.SUCCEEDED
    final = f"state:{JobState.SUCCEEDED.value}"
    assert events[-1] == final, events[-5:]
    assert events.count(final) == 1
    assert [e for e in events if e.startswith("line-")] == [f"line-{i}" for i in range(1, 41)]


async def test_stderr_reaches_prefect_at_the_level_of_stdout(target: Target) -> None:
    from prefect_jobrelay._reporting import reporter

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(f"test-final-state-{target.name}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Keep())
    ref = await target.client.submit(target.spec("echo to-stdout; echo to-stderr >&2"))
    await target.client.wait(ref, follow_logs=True, on_update=reporter(logger, ref), timeout=60)
    levels = {r.getMessage(): r.levelno for r in records if r.getMessage().startswith("to-")}
    assert levels == {"to-stdout": logging.INFO, "to-stderr": logging.INFO}
