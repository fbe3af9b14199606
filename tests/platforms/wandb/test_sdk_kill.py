"""An SDK run killed while its artifact uploads leaves no committed partial version.

Storage answers uploads slowly; the SDK process (and its wandb-core sidecar, in the same
process group) is killed with SIGKILL once an artifact file upload has started. The version
stays PENDING and invisible: no ``latest``, no ``v0``, nothing jobrelay or the SDK can read.
A new run logging the same folder afterwards gets ``v0`` with every file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from jobrelay.errors import ArtifactNotFound
from jobrelay.platforms.wandb import WandbArtifactStore
from jobrelay_emulators.wandb import WandbEmulator

from tests.platforms.wandb.sdk_runner import refused, run_sdk, sdk_env

pytestmark = pytest.mark.timeout(180)

LOG_MODEL = textwrap.dedent(
    """
    import json, sys
    import wandb

    run = wandb.init(project="proj", id=sys.argv[2])
    artifact = wandb.Artifact("model", type="model")
    artifact.add_dir(sys.argv[1])
    run.log_artifact(artifact)
    run.finish()
    print("RESULT " + json.dumps({"id": run.id}))
    """
)


def started_uploads(emulator: WandbEmulator) -> list[str]:
    return [
        r.path
        for r in emulator.storage_requests
        if r.method == "PUT" and r.path.startswith("artifacts/")
    ]


async def test_an_sdk_run_killed_mid_upload_commits_no_partial_version(
    emulator: WandbEmulator, store: WandbArtifactStore, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    (model / "layers").mkdir(parents=True)
    for i in range(4):
        (model / "layers" / f"part{i}.bin").write_bytes(os.urandom(200_000))
    emulator.faults.add("storage.PUT", "slow", delay_s=4.0, times=None)

    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-c", LOG_MODEL, str(model), "killed1"],
        env=sdk_env(emulator, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the sidecar dies with it, as in a killed container
    )
    try:
        deadline = time.monotonic() + 90
        while not started_uploads(emulator):
            assert process.returncode is None, "the SDK ended before uploading"
            assert time.monotonic() < deadline, "the SDK never started an artifact upload"
            await asyncio.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
    emulator.faults.clear()
    await asyncio.sleep(5.0)  # any upload the server was still answering has ended

    world = emulator.world
    collection = world.collection(emulator.entity, "proj", "model")
    assert collection is not None
    assert collection.versions == []
    assert collection.aliases == {}
    pending = [a for a in world.artifacts.values() if a.collection_id == collection.id]
    assert [a.state for a in pending] == ["PENDING"]
    assert not any(op == "CommitArtifact" for op in (r.operation for r in emulator.requests))
    run = world.run(emulator.entity, "proj", "killed1")
    assert run is not None
    assert run.output_artifacts == []
    with pytest.raises(ArtifactNotFound):
        await store.resolve("model:latest")

    # Logged again by a new run: v0, whole.
    await run_sdk(LOG_MODEL, str(model), "again1", env=sdk_env(emulator, tmp_path))
    ref = await store.resolve("model:latest")
    assert ref.version == "v0"
    fetched = await store.fetch(ref, tmp_path / "back")
    for i in range(4):
        part = Path("layers") / f"part{i}.bin"
        assert (fetched / part).read_bytes() == (model / part).read_bytes()
    assert refused(emulator) == []
