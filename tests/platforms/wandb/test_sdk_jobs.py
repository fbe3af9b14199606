"""A job whose code uses only the wandb SDK, launched through a run queue on the emulator.

The emulator's launch agent gives the job the environment a real W&B launch agent gives a
run, so a bare ``wandb.init()`` attaches to the run jobrelay follows. jobrelay reports what the
job logged: its artifacts are the job's outputs and the run summary is ``JobStatus.metrics``.
The model then flows on: to the next W&B job by alias through the launch spec, and to jobs on
the local platform (staged once per digest).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, JobState
from jobrelay.waiting import PollPolicy
from jobrelay_emulators.wandb import WandbEmulator

from tests.platforms.wandb.sdk_runner import operations_listed, refused, sdk_operations

pytestmark = pytest.mark.timeout(300)

FAST = PollPolicy(initial_s=0.05, max_s=0.25, jitter=0)

TRAIN = textwrap.dedent(
    """
    import tempfile
    from pathlib import Path
    import wandb

    run = wandb.init()  # project, entity, run id and config come from the launch agent
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)})
    run.summary["accuracy"] = 0.93
    model = Path(tempfile.mkdtemp()) / "model"
    (model / "layers" / "deep").mkdir(parents=True)
    (model / "weights.bin").write_bytes(bytes(range(256)) * 4096)
    (model / "layers" / "deep" / "config.json").write_text('{"lr": %s}' % run.config["lr"])
    artifact = wandb.Artifact("model", type="model")
    artifact.add_dir(str(model))
    run.log_artifact(artifact, aliases=["candidate"])
    print("trained", run.id, "lr", run.config["lr"])
    run.finish()
    """
)

EVALUATE_ON_WANDB = textwrap.dedent(
    """
    import hashlib, json, os
    from pathlib import Path
    import wandb

    run = wandb.init()
    # The launch spec's overrides.artifacts arrive as WANDB_ARTIFACTS (slot -> path:alias).
    model = run.use_artifact(json.loads(os.environ["WANDB_ARTIFACTS"])["model"])
    root = Path(model.download())
    run.summary["weights_md5"] = hashlib.md5((root / "weights.bin").read_bytes()).hexdigest()
    run.summary["config"] = (root / "layers" / "deep" / "config.json").read_text()
    run.finish()
    """
)

EVALUATE_LOCALLY = textwrap.dedent(
    """
    import hashlib
    from jobrelay import runtime

    root = runtime.input_path("model")
    print("md5", hashlib.md5((root / "weights.bin").read_bytes()).hexdigest())
    print("config", (root / "layers" / "deep" / "config.json").read_text())
    """
)

WEIGHTS_MD5 = hashlib.md5(bytes(range(256)) * 4096).hexdigest()


def script(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    return [sys.executable, str(path)]


async def test_a_wandb_sdk_job_reports_its_artifact_and_summary_and_the_model_flows_on(
    emulator: WandbEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local client reads W&B versions with the key a W&B user has in the environment.
    monkeypatch.setenv("WANDB_API_KEY", emulator.api_key)
    wandb_url = f"wandb://{emulator.entity}/proj?queue=default&host={emulator.url}"
    image = {"docker_image": "python:3.11"}
    async with (
        AsyncClient(wandb_url, credential=emulator.api_key, poll=FAST) as wandb,
        AsyncClient(f"local://{tmp_path / 'local'}", poll=FAST) as local,
    ):
        trained = await wandb.run(
            JobSpec(
                entrypoint=script(tmp_path, "train.py", TRAIN),
                config={**image, "run_config": {"lr": 0.01}},
            ),
            timeout=180,
        )
        assert trained.status.state is JobState.SUCCEEDED
        assert trained.status.metrics["accuracy"] == 0.93
        assert trained.status.metrics["loss"] == pytest.approx(1 / 3)
        model = trained.outputs["model"]
        assert model.version == "v0"
        assert sorted(model.metadata["wandb.aliases"]) == ["candidate", "latest"]
        assert model.producer == trained.ref
        lines = [line.text for line in await wandb.tail_logs(trained.ref, n=50)]
        run_id = trained.ref.id.rsplit(":", 1)[-1]
        assert f"trained {run_id} lr 0.01" in lines

        # The next W&B job gets the model by alias, through the launch spec.
        evaluated = await wandb.run(
            JobSpec(
                entrypoint=script(tmp_path, "evaluate.py", EVALUATE_ON_WANDB),
                config=image,
                inputs={"model": "model:candidate"},
            ),
            timeout=180,
        )
        assert evaluated.status.state is JobState.SUCCEEDED
        assert evaluated.status.metrics["weights_md5"] == WEIGHTS_MD5
        assert evaluated.status.metrics["config"] == '{"lr": 0.01}'
        eval_run = emulator.world.run(emulator.entity, "proj", evaluated.ref.id.rsplit(":", 1)[-1])
        assert eval_run is not None
        assert eval_run.input_artifacts == [model.metadata["wandb.id"]]

        # Two local jobs read the same version: its bytes leave W&B storage once.
        weights = f"artifacts/{emulator.entity}/{WEIGHTS_MD5}"
        for _ in range(2):
            checked = await local.run(
                JobSpec(
                    entrypoint=script(tmp_path, "evaluate_locally.py", EVALUATE_LOCALLY),
                    inputs={"model": model},
                )
            )
            assert checked.status.state is JobState.SUCCEEDED
            printed = [line.text for line in await local.tail_logs(checked.ref, n=10)]
            assert f"md5 {WEIGHTS_MD5}" in printed
            assert 'config {"lr": 0.01}' in printed
        downloads = [
            r for r in emulator.storage_requests if r.method == "GET" and r.path == weights
        ]
        assert len(downloads) == 1 + 1  # the W&B evaluation job's, then one staging copy

    assert refused(emulator) == []
    assert emulator.storage_leaks == []
    note = Path(__file__).with_name("SDK_OPERATIONS.md")
    assert sdk_operations(emulator) - operations_listed(note) == set()


async def test_the_launched_job_gets_the_environment_a_wandb_launch_agent_gives_a_run(
    emulator: WandbEmulator, tmp_path: Path
) -> None:
    show = (
        "import json, os; "
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('WANDB_')}))"
    )
    async with AsyncClient(
        f"wandb://{emulator.entity}/proj?queue=default&host={emulator.url}",
        credential=emulator.api_key,
        poll=FAST,
    ) as client:
        done = await client.run(
            JobSpec(
                entrypoint=[sys.executable, "-c", show],
                config={"docker_image": "python:3.11", "run_config": {"lr": 0.5}},
                inputs={"data": "dataset:v3"},
                name="env-check",
            ),
            timeout=120,
        )
        text = "".join(line.text for line in await client.tail_logs(done.ref, n=5))
    env = json.loads(text)
    queue, item, run_id = done.ref.id.split(":")
    assert env["WANDB_BASE_URL"] == emulator.url
    assert env["WANDB_API_KEY"] == emulator.api_key
    assert env["WANDB_RUN_ID"] == run_id
    assert (env["WANDB_PROJECT"], env["WANDB_ENTITY"]) == ("proj", emulator.entity)
    assert env["WANDB_LAUNCH"] == "True"
    assert json.loads(env["WANDB_CONFIG"]) == {"lr": 0.5}
    assert json.loads(env["WANDB_ARTIFACTS"]) == {"data": f"{emulator.entity}/proj/dataset:v3"}
    assert (env["WANDB_LAUNCH_QUEUE_NAME"], env["WANDB_LAUNCH_TRACE_ID"]) == (queue, item)
    assert env["WANDB_NAME"] == "env-check"
    assert env["WANDB_DOCKER"] == "python:3.11"
    assert os.path.isdir(env["WANDB_DIR"])
