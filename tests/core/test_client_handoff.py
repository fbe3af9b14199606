"""Artifact handoff through the client, end to end on the local platform.

A job logs an output with ``jobrelay.runtime``; the next job names it by alias in
``JobSpec.inputs``, reads it, and logs its own; lineage records both sides.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jobrelay import ArtifactError, AsyncClient, JobSpec

from tests.platforms.conftest import kill_local_agents

WRITE = """
import pathlib, sys
from jobrelay import runtime
out = pathlib.Path(sys.argv[1])
out.write_text("rows: 1,2,3\\n")
runtime.log_output("dataset", out, metadata={"rows": 3}, aliases=["golden"])
"""

READ_AND_WRITE = """
import pathlib, sys
from jobrelay import runtime
rows = runtime.input_path("data").read_text()
print("got", rows.strip())
out = pathlib.Path(sys.argv[1])
out.write_text(f"model trained on {rows.strip()}\\n")
runtime.log_output("model", out)
"""


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    home = tmp_path / "home"
    async with AsyncClient(f"local://{home}") as client:
        yield client
    kill_local_agents(home)


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", script, *args]


async def test_output_of_one_job_is_input_of_the_next_by_alias(
    client: AsyncClient, tmp_path: Path
) -> None:
    first = await client.run(JobSpec(entrypoint=python(WRITE, str(tmp_path / "data.txt"))))
    dataset = first.outputs["dataset"]
    assert dataset.producer == first.ref
    assert dataset.version == "v1"
    assert dataset.metadata["rows"] == 3

    second = await client.run(
        JobSpec(
            entrypoint=python(READ_AND_WRITE, str(tmp_path / "model.txt")),
            inputs={"data": "dataset:golden"},
        )
    )
    lines = [line.text for line in await client.tail_logs(second.ref)]
    assert "got rows: 1,2,3" in lines
    model = second.outputs["model"]
    assert model.producer == second.ref

    store = await client.artifact_store()
    fetched = await store.fetch("model:latest", tmp_path / "fetched")
    assert fetched.read_text() == "model trained on rows: 1,2,3\n"
    lineage = await store.lineage(dataset)
    assert lineage.producer == first.ref
    assert [c.id for c in lineage.consumers] == [second.ref.id]


async def test_waiting_again_returns_the_same_outputs(client: AsyncClient, tmp_path: Path) -> None:
    result = await client.run(JobSpec(entrypoint=python(WRITE, str(tmp_path / "d.txt"))))
    again = await client.wait(result.ref)
    assert again.outputs == result.outputs


async def test_unknown_input_fails_before_anything_is_submitted(client: AsyncClient) -> None:
    with pytest.raises(ArtifactError):
        await client.submit(JobSpec(entrypoint="true", inputs={"data": "nothing:latest"}))
    assert await client.list_jobs() == []


async def test_a_job_file_named_like_a_record_is_not_taken_for_one(
    client: AsyncClient,
) -> None:
    script = (
        "import json, os, pathlib\nfrom jobrelay import runtime\n"
        "p = pathlib.Path(os.environ['JOBRELAY_OUTPUTS']) / 'table.json'\n"
        "p.write_text(json.dumps([1, 2, 3]))\nruntime.log_output('table', p)\n"
    )
    result = await client.run(JobSpec(entrypoint=python(script)))
    assert list(result.outputs) == ["table"]
    assert result.outputs["table"].size == len("[1, 2, 3]")


async def test_result_without_waiting_carries_the_outputs(
    client: AsyncClient, tmp_path: Path
) -> None:
    ref = await client.submit(JobSpec(entrypoint=python(WRITE, str(tmp_path / "d.txt"))))
    waited = await client.wait(ref)  # another process might have waited; we just look now
    now = await client.result(ref)
    assert now.state is waited.state
    assert now.outputs == waited.outputs
    assert now.outputs["dataset"].producer == ref
