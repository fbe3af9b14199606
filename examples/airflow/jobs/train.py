"""Example job: "train" a tiny model and record it as the ``model`` output."""

import json
import sys
import time

from jobrelay import runtime

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
weights = 0.0
for epoch in range(1, epochs + 1):
    weights += 0.5
    print(f"epoch {epoch}/{epochs} loss={1 / epoch:.3f}", flush=True)
    time.sleep(0.05)

# A folder for outputs wherever the job runs (the job's outputs folder on a shared
# filesystem; a scratch folder uploaded by log_output on Ray or a hosted cluster).
out = runtime.outputs_dir() / "model.json"
out.write_text(json.dumps({"weights": weights, "epochs": epochs}))
runtime.log_output("model", out, type="model", metadata={"epochs": epochs})
print("saved model", flush=True)
