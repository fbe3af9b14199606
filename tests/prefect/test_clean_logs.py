"""A successful flow run that runs a job logs no ERROR line: flows served by a real runner
(each flow run in a process of its own), their logs as the Prefect API keeps them and the
runner's output."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests.prefect import runs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Prefect's console format: "20:01:02.345 | ERROR   | ...".
ERROR_LINE = re.compile(r"\|\s*(ERROR|CRITICAL)\s*\|")


@pytest.fixture(scope="module")
def clean_served(
    prefect_api: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("clean-serve") / "serve.log"
    with runs.started(runs.python("-m", "tests.prefect.clean_flows"), log):
        yield log


async def _levels(flow_run_id: UUID) -> list[tuple[int, str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC,
        )
    return [(log.level, log.message) for log in logs]


@pytest.mark.parametrize("flow_name", ["jobrelay-clean-async", "jobrelay-clean-sync"])
async def test_a_successful_flow_run_logs_no_error(
    clean_served: Path, home: Path, flow_name: str
) -> None:
    deployment = await runs.deployment_id(f"{flow_name}/served")
    flow_run = await runs.start_flow_run(deployment, credentials=f"local://{home}")

    state = await runs.wait_flow_run_final(flow_run, timeout=180)

    runner_log = clean_served.read_text(errors="replace")
    assert state.name == "Completed", runner_log[-4000:]

    async def with_the_jobs_lines() -> list[tuple[int, str]]:
        # Prefect ships a run's logs in batches: under load the job's lines come last
        levels = await _levels(flow_run)
        return levels if any("clean-line-1" in message for _, message in levels) else []

    levels = await runs.eventually(with_the_jobs_lines, timeout=60) or await _levels(flow_run)
    assert any("clean-line-1" in message for _, message in levels), levels  # the job's lines
    assert [m for level, m in levels if level >= logging.ERROR] == []
    assert [line for line in runner_log.splitlines() if ERROR_LINE.search(line)] == []
