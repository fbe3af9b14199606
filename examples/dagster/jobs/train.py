"""Example job: "train" a tiny model and record it as the ``model`` output, on any platform.

``runtime.outputs_dir()`` is a folder wherever the job runs: the job's outputs folder on a
shared filesystem (local), a temp folder that ``log_output`` uploads to the platform's job
store otherwise (Ray, hosted platforms).
"""

import json
import sys
import time

from jobrelay import runtime

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
for epoch in range(1, epochs + 1):
    print(f"epoch {epoch}/{epochs} loss={1 / epoch:.3f}", flush=True)
    time.sleep(0.05)
path = runtime.outputs_dir() / "model.json"
path.write_text(json.dumps({"weights": 0.5 * epochs, "epochs": epochs}))
runtime.log_output("model", path, type="model", metadata={"epochs": epochs})
print("saved model", flush=True)
