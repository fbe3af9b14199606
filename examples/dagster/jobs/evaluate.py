"""Example job: score the ``model`` input that ``train`` produced (fetched and checked)."""

import json

from jobrelay import runtime

model = json.loads(runtime.input_path("model").read_text())
score = model["weights"] / model["epochs"]
print(f"evaluated model trained for {model['epochs']} epochs: score={score:.2f}", flush=True)
