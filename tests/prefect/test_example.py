"""The example flow on a real Prefect server and the real local platform: the jobs' lines
in the flow run's logs once each and in order, the run-record artifacts, the handoff."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.prefect.conftest import (
    ROOT,
    eventually,
    flow_run_logs,
    flush_logs,
    prefect_sync_client,
)

pytestmark = pytest.mark.slow


def _example() -> Any:
    path = ROOT / "examples" / "prefect" / "train_evaluate.py"
    spec = importlib.util.spec_from_file_location("prefect_train_evaluate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_flow_logs_records_and_hands_the_model_on(
    prefect_api: dict[str, str], home: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with prefect_sync_client():
        state = await _example().train_evaluate(
            credentials=f"local://{home}", epochs=3, return_state=True
        )
    assert state.is_completed(), state
    result = await state.result()
    train, evaluate = result["train"], result["evaluate"]
    assert (train["state"], evaluate["state"]) == ("SUCCEEDED", "SUCCEEDED")
    model = train["outputs"]["model"]
    assert model["producer"]["id"] == train["job_id"]
    flow_run_id = state.state_details.flow_run_id

    await flush_logs()
    expected = [
        "epoch 1/3 loss=1.000",
        "epoch 2/3 loss=0.500",
        "epoch 3/3 loss=0.333",
        "saved model",
        "evaluated model trained for 3 epochs: score=0.50",  # read the train job's model
    ]

    async def job_lines() -> list[str]:
        logs = await flow_run_logs(flow_run_id)
        return [line for line in logs if line in expected] if len(logs) > 5 else []

    lines = await eventually(lambda: _complete(job_lines, len(expected)))
    assert lines == expected  # once each, in order
    logs = await flow_run_logs(flow_run_id)
    for job in (train, evaluate):
        assert f"Job {job['job_id']} is RUNNING" in logs
        assert f"Job {job['job_id']} succeeded (exit code 0)" in logs

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {"train-run-record", "evaluate-run-record"}
    stored = {key: _record_of(a.data) for key, a in by_key.items()}
    assert stored["train-run-record"] == train
    assert stored["evaluate-run-record"] == evaluate
    assert "| job id | " + train["job_id"] + " |" in by_key["train-run-record"].data
    assert "| outputs | model = " + model["uri"] + " |" in by_key["train-run-record"].data


async def _complete(job_lines: Any, n: int) -> list[str] | None:
    lines: list[str] = await job_lines()
    return lines if len(lines) >= n else None


def _record_of(markdown: Any) -> dict[str, Any]:
    text = str(markdown)
    body = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    record: dict[str, Any] = json.loads(body)
    return record
