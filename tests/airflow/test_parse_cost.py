"""A DAG file that uses the provider imports it each time the DAG processor parses the file:
the parse must not import the jobrelay client (httpx, pydantic models, artifact stores,
), which costs ~150-300 ms; it is imported when a task runs. ``jobrelay.integration``
itself loads its names on first use, so reading ``KillSwitch`` from it at parse is cheap."""

from __future__ import annotations

import json
import subprocess
import sys


def test_parsing_a_dag_with_the_operators_imports_no_client() -> None:
    probe = (
        "import json, sys; import airflow.sdk; "
        "import airflow_jobrelay, airflow_jobrelay.operators, airflow_jobrelay.sensors; "
        "print(json.dumps(sorted(m for m in ('jobrelay.client', 'jobrelay.integration.bridge', "
        "'jobrelay._cancelling') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
