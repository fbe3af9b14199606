"""A successful run that runs a job logs no ERROR line: ``dagster job execute`` runs the
run in a process of its own and its step in another (the multiprocess executor), against
a Dagster home on disk; the run's events as the instance stored them and the command's
output are read afterwards."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dagster.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DEFS = ROOT / "tests" / "dagster" / "clean_defs.py"
# Dagster's console format: "2026-12-07 20:01:02 +0000 - dagster - ERROR - ...".
ERROR_LINE = re.compile(r" - (ERROR|CRITICAL) - ")


def test_a_successful_run_logs_no_error(tmp_path: Path, home: Path) -> None:
    import dagster as dg

    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "JR_DAGSTER_PLATFORM": f"local://{home}",
        "DAGSTER_TELEMETRY_ENABLED": "false",
    }

    done = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", str(DEFS), "-j", "clean"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs()
        assert run.status is dg.DagsterRunStatus.SUCCESS
        entries = instance.all_logs(run.run_id)
    messages = [entry.user_message for entry in entries]
    assert any("clean-line-1" in m for m in messages), messages
    assert [e.user_message for e in entries if e.level >= logging.ERROR] == []
    assert [line for line in output.splitlines() if ERROR_LINE.search(line)] == []
