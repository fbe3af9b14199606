"""The official wandb SDK (0.31) runs a whole run lifecycle on the emulator and reads it back.

One script, as a W&B user writes them: ``wandb.init`` (new, then resumed), ``log``, summary,
config, ``run.save``, ``log_artifact`` (a folder with nested files, a reference, an alias, an
incremental version), ``use_artifact``, ``finish`` with an exit code; then ``wandb.Api()``
reads all of it and creates a run queue. The emulator must have refused nothing, and every
GraphQL operation the SDK sent must be listed in ``SDK_OPERATIONS.md``.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from jobrelay_emulators.wandb import WandbEmulator
from jobrelay_emulators.wandb.state import LAUNCH_PROJECT

from tests.platforms.wandb.sdk_runner import (
    operations_listed,
    refused,
    run_sdk,
    sdk_env,
    sdk_operations,
)

pytestmark = pytest.mark.timeout(240)

NOTE = Path(__file__).with_name("SDK_OPERATIONS.md")

LIFECYCLE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import wandb

    work = Path(sys.argv[1])
    out = {}
    # 1. A training run: metrics, summary, a saved file, a model folder with a reference.
    run = wandb.init(project="proj", id="train1", config={"lr": 0.1, "layers": 2})
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)})
    run.summary["acc"] = 0.9
    run.save(str(work / "model" / "notes.txt"), base_path=str(work / "model"))
    model = wandb.Artifact("model", type="model", metadata={"arch": "mlp"})
    model.add_dir(str(work / "model"))
    model.add_reference((work / "ref.txt").as_uri())
    run.log_artifact(model, aliases=["best"])
    data = wandb.Artifact("dataset", type="dataset")
    data.add_file(str(work / "a.csv"))
    run.log_artifact(data)
    run.finish(exit_code=0)

    # 2. The same run resumed: one more step; the summary keeps what it had.
    run = wandb.init(project="proj", id="train1", resume="must")
    run.log({"loss": 0.1})
    run.finish()

    # 3. An evaluation run uses the model, adds to the dataset incrementally, fails with 3.
    run = wandb.init(project="proj", id="eval1", job_type="eval")
    used = run.use_artifact("model:best")
    root = Path(used.download(root=str(work / "download")))
    out["downloaded"] = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
    )
    more = wandb.Artifact("dataset", type="dataset", incremental=True)
    more.add_file(str(work / "b.csv"))
    run.log_artifact(more)
    run.finish(exit_code=3)

    # 4. The public API reads it all back.
    api = wandb.Api(timeout=30)
    out["runs"] = sorted((r.id, r.state) for r in api.runs("proj"))
    train = api.run("proj/train1")
    out["history"] = [row["loss"] for row in train.history(pandas=False)]
    out["scan"] = [row["loss"] for row in train.scan_history()]
    out["summary"] = {k: v for k, v in train.summary.items() if not k.startswith("_")}
    out["config"] = dict(train.config)
    out["files"] = sorted(f.name for f in train.files())
    out["logged"] = sorted(a.name for a in train.logged_artifacts())
    version = api.artifact("proj/model:best")
    out["model_aliases"] = sorted(version.aliases)
    out["model_metadata"] = version.metadata
    out["reference"] = version.manifest.entries["ref.txt"].ref
    out["created_by"] = version.logged_by().id
    out["used_by"] = [r.id for r in version.used_by()]
    evaluation = api.run("proj/eval1")
    out["eval"] = [evaluation.state, evaluation.summary.get("_wandb", {}) != {}]
    out["used"] = [a.name for a in evaluation.used_artifacts()]
    dataset = api.artifact("proj/dataset:latest")
    out["dataset"] = [dataset.version, sorted(dataset.manifest.entries)]
    queue = api.create_run_queue(
        name="gpu", type="local-process", entity=api.default_entity, config={"env": []}
    )
    out["queue"] = queue.name
    print("RESULT " + json.dumps(out))
    """
)


async def test_a_whole_sdk_run_lifecycle_is_accepted_and_read_back(
    emulator: WandbEmulator, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    (work / "model" / "layers" / "deep").mkdir(parents=True)
    weights = os.urandom(300_000)
    (work / "model" / "weights.bin").write_bytes(weights)
    (work / "model" / "layers" / "deep" / "conf ünï.json").write_text('{"k": 1}')
    (work / "model" / "notes.txt").write_text("trained twice\n")
    (work / "ref.txt").write_text("referenced, not uploaded\n")
    (work / "a.csv").write_text("a\n")
    (work / "b.csv").write_text("b\n")

    out = await run_sdk(LIFECYCLE, str(work), env=sdk_env(emulator, tmp_path))

    assert refused(emulator) == []
    assert out["downloaded"] == [
        "layers/deep/conf ünï.json",
        "notes.txt",
        "weights.bin",
    ]
    assert out["reference"] == (work / "ref.txt").as_uri()
    assert (work / "download" / "weights.bin").read_bytes() == weights
    assert out["runs"] == [["eval1", "failed"], ["train1", "finished"]]
    assert out["history"] == [1.0, 0.5, pytest.approx(1 / 3), 0.1]
    assert out["scan"] == out["history"]
    assert out["summary"] == {"loss": 0.1, "acc": 0.9}
    assert out["config"] == {"lr": 0.1, "layers": 2}
    assert {"notes.txt", "wandb-summary.json"} <= set(out["files"])
    assert out["logged"] == ["dataset:v0", "model:v0"]
    assert out["model_aliases"] == ["best", "latest"]
    assert out["model_metadata"] == {"arch": "mlp"}
    assert out["created_by"] == "train1"
    assert out["used_by"] == ["eval1"]
    assert out["used"] == ["model:v0"]
    assert out["dataset"] == ["v1", ["a.csv", "b.csv"]]
    assert out["queue"] == "gpu"

    # What the emulator holds, as the server would.
    train = emulator.world.run(emulator.entity, "proj", "train1")
    evaluation = emulator.world.run(emulator.entity, "proj", "eval1")
    assert train is not None
    assert evaluation is not None
    assert (train.state, train.exitcode) == ("finished", 0)
    assert (evaluation.state, evaluation.exitcode) == ("failed", 3)
    assert [row["_step"] for row in train.history] == [0, 1, 2, 3]
    notes = emulator.world.blobs[train.files["notes.txt"].storage_path]
    assert notes == b"trained twice\n"
    assert emulator.world.queue_by_name(emulator.entity, LAUNCH_PROJECT, "gpu") is not None
    assert emulator.storage_leaks == []

    missing = sdk_operations(emulator) - operations_listed(NOTE)
    assert missing == set(), "operations missing from SDK_OPERATIONS.md"


def test_an_operation_the_emulator_does_not_model_fails_with_its_name(
    emulator: WandbEmulator,
) -> None:
    import httpx

    response = httpx.post(
        f"{emulator.url}/graphql",
        json={"query": "mutation LinkArtifact { linkArtifact(input: {}) { versionIndex } }"},
        auth=("api", emulator.api_key),
    )
    message = response.json()["errors"][0]["message"]
    assert "Cannot query field 'linkArtifact' on type 'Mutation'" in message
    assert "'LinkArtifact'" in message
    assert emulator.requests[-1].errors == [message]
