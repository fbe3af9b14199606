"""What ``import airflow_jobrelay.operators`` adds to a DAG file's import time.

Every DAG file that uses the operator imports it each time the DAG processor parses the
file, so the provider keeps its module-level imports light (the jobrelay client is
imported when a task runs, not when a DAG is parsed). Target: at most 100 ms over
``import airflow.sdk``, median of 10 fresh processes.

Each process imports ``airflow.sdk``, then ``airflow_jobrelay.operators``, and reports both
times; the difference in one process is the provider's own cost, free of the noise between
processes. Run from the repository root::

    python3 -m uv run python benchmarks/airflow_import.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

RUNS = 10
TARGET_MS = 100.0

_PROBE = """
import json, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
import airflow_jobrelay.operators
t2 = time.perf_counter()
print(json.dumps({"sdk": t1 - t0, "operators": t2 - t1}))
"""


def measure_once(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="jr-af-import-") as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
        measure_once(env)  # the first run writes airflow.cfg and warms the disk cache
        runs = [measure_once(env) for _ in range(RUNS)]
    sdk_ms = statistics.median(r["sdk"] for r in runs) * 1000
    added = sorted(r["operators"] * 1000 for r in runs)
    added_ms = statistics.median(added)
    print(f"import airflow.sdk                       median {sdk_ms:8.1f} ms ({RUNS} processes)")
    print(
        f"+ import airflow_jobrelay.operators      median {added_ms:8.1f} ms "
        f"(min {added[0]:.1f}, max {added[-1]:.1f}; target <= {TARGET_MS:.0f} ms)"
    )
    ok = added_ms <= TARGET_MS
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
