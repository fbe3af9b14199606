"""The example Definitions on a real Dagster instance and the real local platform: the
jobs' lines in the run's event log once each and in order, the run records in the
materializations' metadata, the model handed from train to evaluate through the IO
manager's store (a folder store, not the platform's: the core stages it) with its digest
checked."""

import asyncio
import runpy
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_jobrelay import JobRelayIOManager, JobRelayResource
from jobrelay.artifacts import open_store, split_artifact_uri

from tests.dagster.conftest import ROOT, materialization_metadata, user_messages

pytestmark = pytest.mark.slow

EXPECTED = [
    "epoch 1/3 loss=1.000",
    "epoch 2/3 loss=0.500",
    "epoch 3/3 loss=0.333",
    "saved model",
    "evaluated model trained for 3 epochs: score=0.50",  # read the train job's model
]


def example() -> dict[str, Any]:
    """The example file's names (it is a file a user points ``dagster dev -f`` at)."""
    return runpy.run_path(str(ROOT / "examples" / "dagster" / "train_evaluate.py"))


def materialize_example(instance: Any, platform: str, store: str, **options: Any) -> Any:
    names = example()
    result = dg.materialize(
        [names["model"], names["evaluation"]],
        instance=instance,
        resources={
            "jobrelay": JobRelayResource(platform=platform, **options),
            "artifacts": JobRelayIOManager(store=store),
        },
    )
    assert result.success
    return result


def check_handoff(instance: Any, run_id: str, store_url: str) -> tuple[dict[str, Any], Any]:
    """The lines, the records and the artifact; returns the model's metadata and version."""
    messages = user_messages(instance, run_id)
    assert [m for m in messages if m in EXPECTED] == EXPECTED  # once each, in order
    trained = materialization_metadata(instance, run_id, "model")
    evaluated = materialization_metadata(instance, run_id, "evaluation")
    for record in (trained, evaluated):
        assert record["state"] == "SUCCEEDED"
        assert record["exit_code"] == 0
        # A state line as the waiter saw it (a short job can go from QUEUED to SUCCEEDED
        # between two polls), then the end.
        assert any(m.startswith(f"Job {record['job_id']} is ") for m in messages)
        assert f"Job {record['job_id']} succeeded (exit code 0)" in messages
    produced = trained["outputs"]["model"]
    assert produced["producer"]["id"] == trained["job_id"]

    # The asset's version in the IO manager's store: same bytes, made by the train job.
    assert trained["artifact_uri"] == f"{store_url}#model:v1"
    assert trained["artifact_digest"] == produced["digest"]
    assert trained["producer_job"] == trained["job_id"]
    assert trained["run_record"]["outputs"]["model"] == produced

    async def lineage() -> Any:
        version = await open_store(store_url).resolve("model:latest")
        platform_store, _ = split_artifact_uri(produced["uri"])
        return version, await open_store(platform_store).lineage(produced["uri"])

    version, consumed = asyncio.run(lineage())
    assert version.digest == produced["digest"]
    # The evaluate job read the exact bytes train made: the IO manager's version, staged
    # back into the platform's store by digest (found there: nothing copied), and checked.
    assert [job.id for job in consumed.consumers] == [evaluated["job_id"]]
    return trained, version


def test_the_example_materializes_on_local_and_hands_the_model_on(
    instance: Any, home: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "asset-store")
    result = materialize_example(instance, f"local://{home}", store)
    check_handoff(instance, result.run_id, open_store(store).url)


def test_the_example_materializes_on_ray_and_hands_the_model_on(
    instance: Any, tmp_path: Path
) -> None:
    from tests.platforms.ray_cluster import shared_head

    head = shared_head()
    store = str(tmp_path / "asset-store")
    jobs_store = f"file://{tmp_path / 'ray-store'}"  # what the cluster's jobs can reach
    result = materialize_example(instance, head.platform_url, store, artifacts=jobs_store)
    trained, _ = check_handoff(instance, result.run_id, open_store(store).url)
    assert trained["platform"] == head.platform_url
    assert trained["outputs"]["model"]["uri"].startswith(jobs_store)
    assert trained["url"].startswith("http://127.0.0.1:")  # the job's page on the dashboard
