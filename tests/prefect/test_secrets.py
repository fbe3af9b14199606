"""The credential reaches the platform and nothing else: not the block's repr, the flow
run's parameters, logs, artifacts or results, nor any byte of the Prefect server's
database or of PREFECT_HOME.

The platform is the W&B emulator on loopback (``jobrelay_emulators.wandb``): it refuses any
other API key, so a run that succeeds proves the credential was sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect_jobrelay import JobRelayCredentials, run_job_flow
from pydantic import SecretStr

from tests.prefect.conftest import SECRET, flow_run_logs, flush_logs, prefect_sync_client

pytestmark = pytest.mark.slow


@pytest.fixture
def wandb_emulator(tmp_path: Path) -> Iterator[Any]:
    """The W&B emulator, taking only SECRET as API key; its agent's jobs stopped after."""
    from jobrelay_emulators.local_home import stop_local_home
    from jobrelay_emulators.wandb import WandbEmulator

    try:
        with WandbEmulator(api_key=SECRET, agent_home=tmp_path / "agent") as emulator:
            emulator.create_queue("default")
            yield emulator
    finally:
        stop_local_home(tmp_path / "agent")


async def test_the_credential_never_reaches_prefect(
    prefect_api: dict[str, str], wandb_emulator: Any
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    platform = (
        f"wandb://{wandb_emulator.entity}/prefect?queue=default&host={wandb_emulator.url}"
        "&image=python:3.11"
    )
    block = JobRelayCredentials(platform=platform, credential=SecretStr(SECRET))
    await block.save("jr-wandb-secret", overwrite=True)
    spec = {"entrypoint": "echo scored", "name": "scored"}

    states = []
    with prefect_sync_client():
        # By the saved block's name (what a deployment passes), and as the block itself.
        for credentials in ("jr-wandb-secret", block):
            state = await run_job_flow(credentials=credentials, spec=spec, return_state=True)
            assert state.is_completed(), state
            states.append(state)
    await flush_logs()

    seen: list[str] = [repr(block), str(block), block.model_dump_json()]
    async with get_client() as client:
        for state in states:
            record = await state.result()
            assert record["state"] == "SUCCEEDED"
            seen.append(json.dumps(record))
            flow_run_id = state.state_details.flow_run_id
            flow_run = await client.read_flow_run(flow_run_id)
            seen.append(flow_run.model_dump_json())
            logs = await flow_run_logs(flow_run_id)
            assert any("Submitted job" in line for line in logs)
            seen.extend(logs)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )
            assert artifacts
            seen.extend(artifact.model_dump_json() for artifact in artifacts)
            for task_run in await client.read_task_runs():
                seen.append(task_run.model_dump_json())
    for text in seen:
        assert SECRET not in text

    # Nor in any byte the server or the client stored (the database, its WAL, PREFECT_HOME).
    db = Path(prefect_api["db"])
    stored = [*db.parent.glob(db.name + "*"), *Path(os.environ["PREFECT_HOME"]).rglob("*")]
    assert db in stored
    everything = b""
    for path in stored:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            everything += path.read_bytes()
    assert b"Submitted job" in everything  # the logs are stored there: the search can see
