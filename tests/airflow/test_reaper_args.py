"""The Airflow reaper checks its grace period as its DAG is parsed, with the core's check
(the same as the Dagster sensor's and the sweep's), and that parse still imports no client."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from airflow_jobrelay.reaper import CancelOrphanedJobsOperator, orphan_sweep_dag
from jobrelay import ConfigError


@pytest.mark.parametrize("grace", [-1, math.inf, math.nan, True, "60"])
def test_a_bad_grace_period_fails_the_parse_naming_it(grace: Any) -> None:
    with pytest.raises(ConfigError, match="grace_period"):
        orphan_sweep_dag("bad_grace", grace_period=grace)


def test_a_grace_period_of_zero_or_more_is_kept_as_seconds() -> None:
    assert CancelOrphanedJobsOperator(task_id="sweep", grace_period=0).grace_period == 0.0
    assert CancelOrphanedJobsOperator(task_id="sweep", grace_period=90).grace_period == 90.0


def test_parsing_a_reaper_dag_imports_no_client() -> None:
    probe = (
        "import json, sys; import airflow.sdk; "
        "from airflow_jobrelay.reaper import orphan_sweep_dag; orphan_sweep_dag(); "
        "print(json.dumps(sorted(m for m in ('jobrelay.client', 'jobrelay.integration.bridge', "
        "'jobrelay.integration.sweeping') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
