"""Artifacts cross between W&B and Ray: a W&B run's output feeds a Ray job, and back.

W&B keeps artifacts itself (native artifacts); a Ray job reads and writes through its job
store. The client stages across: a W&B version into Ray's job store for the Ray job, a Ray
output into the W&B project for the W&B job (once per digest); the bytes arrive intact
(each store has its own digest scheme).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, JobState
from jobrelay.waiting import PollPolicy
from jobrelay_emulators.wandb import Outcome, WandbEmulator

FAST = PollPolicy(initial_s=0.05, max_s=0.2, jitter=0)

READ_DATA = """
from jobrelay import runtime
print("ray read:", runtime.input_path("data").read_text().strip())
path = runtime.outputs_dir() / "model.txt"
path.write_text("model trained on w&b data\\n")
runtime.log_output("model", path)
"""


async def test_a_wandb_output_feeds_a_ray_job_whose_output_feeds_a_wandb_job(
    ray_url: str, emulator: WandbEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Ray client reads the W&B version with the key a W&B user has in the environment.
    monkeypatch.setenv("WANDB_API_KEY", emulator.api_key)
    wandb_url = f"wandb://{emulator.entity}/proj?queue=default&host={emulator.url}"
    (tmp_path / "data.csv").write_text("rows from w&b\n")
    emulator.script(Outcome("finished", duration_s=1.0), queue="default")
    async with (
        AsyncClient(wandb_url, credential=emulator.api_key, poll=FAST) as wandb,
        AsyncClient(f"{ray_url}?artifacts=file://{tmp_path}/ray-store") as ray,
    ):
        # 1. A W&B run logs its output (as the wandb SDK in the job would).
        made = await wandb.submit(
            JobSpec(entrypoint="python make.py", config={"docker_image": "python:3.11"})
        )
        await wandb.wait(made, until=JobState.RUNNING)
        wandb_store = await wandb.artifact_store()
        await wandb_store.put("data", tmp_path / "data.csv", type="dataset", producer=made)
        data = (await wandb.wait(made)).outputs["data"]
        assert data.uri.startswith("wandb://")

        # 2. It is a Ray job's input; the Ray job's output goes to Ray's job store.
        trained = await ray.run(
            JobSpec(entrypoint=[sys.executable, "-c", READ_DATA], inputs={"data": data})
        )
        lines = [line.text for line in await ray.tail_logs(trained.ref, n=20)]
        assert "ray read: rows from w&b" in lines
        model = trained.outputs["model"]
        assert model.uri.startswith(f"file://{tmp_path}/ray-store")

        # 3. The Ray output is a W&B job's input: staged into the W&B project first.
        emulator.agent.hold("default")
        used = await wandb.submit(
            JobSpec(
                entrypoint="python eval.py",
                config={"docker_image": "python:3.11"},
                inputs={"model": model},
            )
        )
        item = list(next(iter(emulator.world.queues.values())).items.values())[-1]
        named = json.loads(item.run_spec)["overrides"]["artifacts"]["model"]
        assert named.startswith(f"{emulator.entity}/proj/model:")
        staged = await wandb_store.resolve(named.split("/", 2)[2])
        fetched = await wandb_store.fetch(staged, tmp_path / "fetched")
        assert fetched.read_text() == "model trained on w&b data\n"
        await wandb.cancel(used)
