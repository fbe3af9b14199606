"""Evaluate the model artifact that ``train.py`` logged to W&B, as a job on another platform.

jobrelay hands the W&B version over as the input ``model`` (staged into this platform's store
once per digest); the job reads it with ``jobrelay.runtime``, which needs only the standard
library, and writes its report as an output.
"""

from __future__ import annotations

import json

from jobrelay import runtime

model = runtime.input_path("model")
weight = json.loads((model / "params" / "weights.json").read_text())["weight"]
error = abs(2.0 - weight)
print(f"evaluated {model.name}: weight {weight:.4f}, error {error:.4f}")
report = runtime.outputs_dir() / "report.json"
report.write_text(json.dumps({"weight": weight, "error": error}))
runtime.log_output("report", report)
