"""The official wandb SDK (0.31, through its wandb-core sidecar) against the emulator, on
artifacts and queued runs that jobrelay created: proof that the emulator speaks W&B.

The SDK runs in a subprocess with ``WANDB_BASE_URL`` pointing at the emulator on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobrelay import JobSpec, JobState
from jobrelay.platforms.wandb import WandbArtifactStore, WandbPlatform
from jobrelay_emulators.wandb import Outcome, WandbEmulator

from tests.platforms.wandb.sdk_runner import run_sdk, sdk_env

pytestmark = pytest.mark.timeout(120)

SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import wandb

    entity, project, queue, item, pending_queue, pending_item, run_id, dest = sys.argv[1:]
    api = wandb.Api(timeout=30)
    artifact = api.artifact(f"{entity}/{project}/dataset:latest")
    root = artifact.download(root=dest)
    out = {
        "artifact_version": artifact.version,
        "artifact_digest": artifact.digest,
        "root": str(root),
        "claimed_state": api.queued_run(
            entity, project, queue, item, project_queue="model-registry").state,
        "pending_state": api.queued_run(
            entity, project, pending_queue, pending_item, project_queue="model-registry").state,
    }
    run = api.run(f"{entity}/{project}/{run_id}")
    out["run_state"] = run.state
    out["run_summary"] = dict(run.summary_metrics)
    out["run_config"] = dict(run.config)
    print("RESULT " + json.dumps(out))
    """
)


async def test_official_sdk_reads_jobrelay_artifacts_queued_runs_and_runs(
    emulator: WandbEmulator, platform: WandbPlatform, store: WandbArtifactStore, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(4096))
    ref = await store.put("dataset", src, type="dataset")

    emulator.script(Outcome("finished", summary={"loss": 0.25}), queue="default")
    spec = JobSpec(
        entrypoint="python train.py",
        config={"run_config": {"lr": 0.1}},
        idempotency_key="sdk-check",
    )
    job = await platform.submit(spec)
    for _ in range(500):
        if (await platform.status(job)).state.is_terminal:
            break
        await asyncio.sleep(0.02)
    assert (await platform.status(job)).state is JobState.SUCCEEDED
    emulator.create_queue("parked")
    emulator.agent.hold("parked")
    pending = await platform.submit(JobSpec(entrypoint="true", queue="parked"))
    queue, item, run_id = job.id.split(":")
    pending_item = pending.id.split(":")[1]

    args = [
        emulator.entity,
        "proj",
        queue,
        item,
        "parked",
        pending_item,
        run_id,
        str(tmp_path / "dl"),
    ]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", SDK_SCRIPT, *args],
        env=sdk_env(emulator, tmp_path),
        capture_output=True,
        text=True,
        timeout=100,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"SDK failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["artifact_version"] == "v0"
    assert f"manifest_md5:{result['artifact_digest']}" == ref.digest
    root = Path(result["root"])
    assert (root / "a.txt").read_bytes() == b"hello\n"
    assert (root / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert result["claimed_state"] == "claimed"
    assert result["pending_state"] == "pending"
    assert result["run_state"] == "finished"
    assert result["run_summary"] == {"loss": 0.25}
    assert result["run_config"] == {"lr": 0.1}
    assert emulator.storage_leaks == []


FILE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import wandb

    path, dest = sys.argv[1:]
    artifact = wandb.Api(timeout=30).artifact(path)
    root = artifact.download(root=dest)
    print("RESULT " + json.dumps({"metadata": artifact.metadata, "root": str(root)}))
    """
)


async def test_a_file_artifact_carries_only_the_users_metadata_and_comes_back_a_file(
    emulator: WandbEmulator, store: WandbArtifactStore, tmp_path: Path
) -> None:
    """jobrelay used to add ``jobrelay.kind`` to the metadata every W&B user sees; a file's
    layout now lives in its manifest entry, and a fetch still gives back a file."""
    (tmp_path / "model.pt").write_bytes(b"weights")
    ref = await store.put("model", tmp_path / "model.pt", type="model", metadata={"acc": 0.9})
    assert "jobrelay.kind" not in ref.metadata
    fetched = await store.fetch(ref, tmp_path / "back.pt")
    assert fetched.is_file()
    assert fetched.read_bytes() == b"weights"

    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            FILE_SCRIPT,
            f"{emulator.entity}/proj/model:v0",
            str(tmp_path / "dl"),
        ],
        env=sdk_env(emulator, tmp_path),
        capture_output=True,
        text=True,
        timeout=100,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"SDK failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["metadata"] == {"acc": 0.9}
    assert (Path(result["root"]) / "model.pt").read_bytes() == b"weights"


REFERENCE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import wandb

    work = Path(sys.argv[1])
    with wandb.init(project="proj", id="refrun") as run:
        artifact = wandb.Artifact("sdk-ref", type="dataset")
        artifact.add_reference((work / "one.csv").as_uri())
        run.log_artifact(artifact)
    print("RESULT " + json.dumps({"logged": True}))
    """
)


async def test_fetching_a_reference_artifact_names_it_and_says_what_to_do(
    emulator: WandbEmulator, store: WandbArtifactStore, tmp_path: Path
) -> None:
    # Issue 26: was "W&B lists no download URL for sdk-ref:v0/one.csv".
    from jobrelay.errors import ArtifactError

    work = tmp_path / "work"
    work.mkdir()
    (work / "one.csv").write_text("a,b\n1,2\n")
    await run_sdk(REFERENCE_SCRIPT, str(work), env=sdk_env(emulator, tmp_path))
    with pytest.raises(ArtifactError) as info:
        await store.fetch("sdk-ref:latest", tmp_path / "back")
    message = str(info.value)
    assert "sdk-ref:v0 is a reference artifact" in message
    assert "one.csv" in message
    assert "jobrelay does not download" in message
    assert "artifact.download()" in message  # what to do instead
    assert not (tmp_path / "back").exists()
