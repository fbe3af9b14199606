"""Example job: "train" a tiny model and record it as the ``model`` output."""

import json
import os
import sys
import time
from pathlib import Path

from jobrelay import runtime

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
weights = 0.0
for epoch in range(1, epochs + 1):
    weights += 0.5
    print(f"epoch {epoch}/{epochs} loss={1 / epoch:.3f}", flush=True)
    time.sleep(0.05)

# The outputs folder jobrelay gives the job: files there never land in the job's own folder.
out = Path(os.environ.get("JOBRELAY_OUTPUTS", ".")) / "model.json"
out.write_text(json.dumps({"weights": weights, "epochs": epochs}))
runtime.log_output("model", out, type="model", metadata={"epochs": epochs})
print("saved model", flush=True)
