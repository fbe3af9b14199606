"""Train a (toy) model with the wandb SDK only: the script a W&B user launches from a run queue.

Nothing here knows about jobrelay. The launch agent's environment says which run this is
(``WANDB_RUN_ID``, ``WANDB_PROJECT``, ``WANDB_ENTITY``) and carries the launch config
(``WANDB_CONFIG``), so ``wandb.init()`` attaches to the run the queue item was acked with.
The model folder is logged as a ``model`` artifact with the alias ``candidate``.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import wandb

run = wandb.init(config={"epochs": 3, "lr": 0.1})
epochs, lr = int(run.config["epochs"]), float(run.config["lr"])
weight, rng = 0.0, random.Random(0)
for epoch in range(epochs):
    weight += lr * (2.0 - weight)  # gradient steps towards 2.0
    loss = (2.0 - weight) ** 2 + rng.random() * 1e-3
    run.log({"epoch": epoch, "loss": loss})
    print(f"epoch {epoch}: loss {loss:.4f}")
run.summary["final_weight"] = weight

model = Path(tempfile.mkdtemp(prefix="model-")) / "model"
(model / "params").mkdir(parents=True)
(model / "params" / "weights.json").write_text(json.dumps({"weight": weight}))
(model / "card.md").write_text(f"# toy model\n\ntrained {epochs} epochs at lr {lr}\n")
artifact = wandb.Artifact("model", type="model", metadata={"epochs": epochs, "lr": lr})
artifact.add_dir(str(model))
run.log_artifact(artifact, aliases=["candidate"])
run.finish()
