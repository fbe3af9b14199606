"""Train on W&B Launch with the wandb SDK, evaluate on the local platform: offline, one command.

    python examples/wandb_sdk/run_offline.py

It starts the W&B emulator (``jobrelay_emulators.wandb``) on 127.0.0.1 with a ``default`` run
queue; the emulator's launch agent runs ``train.py`` as a W&B launch agent runs a job (the
``WANDB_*`` environment of a launched run). jobrelay follows the run, reads its summary as
the job's metrics and its logged ``model`` artifact as the job's output, and hands that to
``evaluate.py`` on the local platform. Against real W&B, use
``wandb://ENTITY/PROJECT?queue=QUEUE`` with ``$WANDB_API_KEY`` and an agent on the queue.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from jobrelay import AsyncClient, JobSpec
from jobrelay_emulators.local_home import stop_local_home
from jobrelay_emulators.wandb import WandbEmulator

HERE = Path(__file__).resolve().parent


async def train_then_evaluate(wandb_url: str, local_url: str, api_key: str) -> dict[str, object]:
    async with (
        AsyncClient(wandb_url, credential=api_key) as wandb,
        AsyncClient(local_url) as local,
    ):
        trained = await wandb.run(
            JobSpec(
                entrypoint=[sys.executable, str(HERE / "train.py")],
                config={"docker_image": "python:3.11", "run_config": {"epochs": 5, "lr": 0.3}},
                name="train",
            ),
            timeout=300,
        )
        model = trained.outputs["model"]
        print(f"trained: {trained.status.platform_state}, model {model.uri}")
        print(f"metrics: loss {trained.status.metrics['loss']:.4f}")
        evaluated = await local.run(
            JobSpec(
                entrypoint=[sys.executable, str(HERE / "evaluate.py")],
                inputs={"model": model},
                name="evaluate",
            ),
            timeout=300,
        )
        for line in await local.tail_logs(evaluated.ref, n=5):
            print(f"evaluate: {line.text}")
        return {"model": model, "report": evaluated.outputs["report"]}


def main() -> None:
    with WandbEmulator() as emulator, tempfile.TemporaryDirectory() as home:
        emulator.create_queue("default")
        os.environ["WANDB_API_KEY"] = emulator.api_key  # the local side reads W&B versions
        try:
            asyncio.run(
                train_then_evaluate(
                    f"wandb://{emulator.entity}/demo?queue=default&host={emulator.url}",
                    f"local://{home}",
                    emulator.api_key,
                )
            )
        finally:  # the local agents this started (here and in the emulator) end with it
            stop_local_home(Path(home))
            stop_local_home(emulator.agent_home)


if __name__ == "__main__":
    main()
