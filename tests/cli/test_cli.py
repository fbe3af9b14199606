"""The `jobrelay` command as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.platforms.conftest import kill_local_agents

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    kill_local_agents(home)


def jobrelay(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOBRELAY_PLATFORM": f"local://{home}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "jobrelay", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_submit_wait_succeeds_with_exit_0_and_prints_the_log(home: Path) -> None:
    done = jobrelay(home, "submit", "--wait", "echo hello-cli")
    assert done.returncode == 0, done.stderr
    assert "hello-cli" in done.stdout
    assert "SUCCEEDED" in done.stdout


def test_failed_job_exits_1_and_shows_the_last_lines(home: Path) -> None:
    done = jobrelay(home, "submit", "--wait", "echo broken >&2; exit 7")
    assert done.returncode == 1
    assert "exit code 7" in done.stderr
    assert "broken" in done.stderr


def test_status_ls_and_wait_speak_json(home: Path) -> None:
    submitted = jobrelay(home, "submit", "--json", "sleep 0.2")
    job_id = json.loads(submitted.stdout)["id"]
    waited = jobrelay(home, "wait", job_id, "--json")
    assert waited.returncode == 0
    assert json.loads(waited.stdout)["status"]["state"] == "SUCCEEDED"
    status = json.loads(jobrelay(home, "status", job_id, "--json").stdout)
    assert status["state"] == "SUCCEEDED"
    listed = json.loads(jobrelay(home, "ls", "--json").stdout)
    assert [s["ref"]["id"] for s in listed] == [job_id]


def test_wait_timeout_exits_3_and_cancels(home: Path) -> None:
    job_id = json.loads(jobrelay(home, "submit", "--json", "sleep 30").stdout)["id"]
    done = jobrelay(home, "wait", job_id, "--run-timeout", "0.5")
    assert done.returncode == 3
    assert "phase=run" in done.stderr
    assert json.loads(jobrelay(home, "status", job_id, "--json").stdout)["state"] == "CANCELLED"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["submit", ""], "entrypoint"),
        (["submit", "--attempt-timeout", "-1", "true"], "timeout_s"),
        (["queue", "create", "q", "--mode", "RANDOM"], "mode"),
        (["--platform", "local", "ls"], "platform"),
        (["submit", "--env", "NOEQ", "true"], "env"),
        (["submit", "--wait", "--queue-timeout", "-1", "true"], "queue_timeout"),
        (["submit", "--wait", "--run-timeout", "nan", "true"], "run_timeout"),
        (["wait", "j-1", "--timeout", "-1"], "timeout"),
        (["ls", "--limit", "-1"], "limit"),
        (["emulator", "wandb", "--port", "-1"], "port"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(home: Path, args: list[str], field: str) -> None:
    if args[0] == "--platform":  # the option belongs to the command
        args = [args[2], args[0], args[1]]
    done = jobrelay(home, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert field in done.stderr
    assert not (home / "jobrelay.db").exists() or "queue" in field or field == "mode"


def test_ctrl_c_during_submit_wait_cancels_the_job(home: Path) -> None:
    env = {**os.environ, "JOBRELAY_PLATFORM": f"local://{home}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobrelay", "submit", "--wait", "echo started; sleep 60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if "started" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert "cancelled job" in err
    job_id = err.split("cancelled job")[1].split()[0]
    assert json.loads(jobrelay(home, "status", job_id, "--json").stdout)["state"] == "CANCELLED"


def test_demo_shows_queueing_states_handoff_and_lineage(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    try:
        done = jobrelay(home, "demo", "--home", str(home), timeout=90)
    finally:
        kill_local_agents(home)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for name in ("prepare-train", "prepare-test", "train", "evaluate"):
        row = next(line for line in out.splitlines() if f" {name} " in line and "→" in line)
        assert row.index("QUEUED") < row.index("RUNNING") < row.index("SUCCEEDED"), row
    # The second job of stage 1 waits behind the first in the concurrency-1 queue.
    assert "prepare-test: QUEUED (queue position 2)" in out
    assert "prepare-test: QUEUED (queue position 1)" in out
    # Handoff by alias and the lineage table: producer and consumer of each artifact.
    assert "reads data=train-data:latest" in out
    lineage = out[out.index("artifact lineage") :]
    model_row = next(line for line in lineage.splitlines() if "model:v1" in line)
    assert "train (" in model_row
    assert "evaluate (" in model_row


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_bad_limits_are_refused_before_the_platform_is_called(home: Path) -> None:
    # A platform nothing listens on: any call would be exit 4, not 2.
    ray = f"ray://127.0.0.1:{_closed_port()}"
    for args in (
        ["wait", "j-1", "--timeout", "-1"],
        ["submit", "--wait", "--run-timeout", "-5", "x"],
    ):
        done = jobrelay(home, *args, "--platform", ray)
        assert done.returncode == 2, done.stderr
        assert "could not reach" not in done.stderr


def test_an_unknown_job_has_its_own_exit_code_and_unreachable_names_host_and_port(
    home: Path,
) -> None:
    jobrelay(home, "submit", "true")  # the platform exists
    unknown = jobrelay(home, "status", "j-doesnotexist")
    assert unknown.returncode == 5, unknown.stderr
    assert "j-doesnotexist" in unknown.stderr
    port = _closed_port()
    unreachable = jobrelay(home, "ls", "--platform", f"ray://127.0.0.1:{port}")
    assert unreachable.returncode == 4, unreachable.stderr
    assert f"127.0.0.1:{port}" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) <= 2  # the retry line and the error


def test_logs_print_what_the_job_wrote_byte_for_byte(home: Path) -> None:
    done = jobrelay(home, "submit", "--wait", "--json", "printf 'a\\tb\\007c\\010d\\014e\\n'")
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["ref"]["id"]
    for follow in ([], ["-f"]):
        printed = jobrelay(home, "logs", job_id, *follow)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == "a\tb\x07c\x08d\x0ce\n"


def test_ls_never_wraps_a_job_id_in_80_columns(home: Path) -> None:
    for _ in range(3):
        jobrelay(home, "submit", "--name", "x" * 30, "echo " + "long message " * 10)
    env = {**os.environ, "JOBRELAY_PLATFORM": f"local://{home}", "COLUMNS": "80"}
    listed = subprocess.run(
        [sys.executable, "-m", "jobrelay", "ls"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    ids = [s["ref"]["id"] for s in json.loads(jobrelay(home, "ls", "--json").stdout)]
    assert len(ids) == 3
    for job_id in ids:
        assert any(job_id in line for line in listed.stdout.splitlines()), listed.stdout


def test_status_json_shows_the_jobs_key_and_outputs(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "make.py"
    script.write_text(
        "from jobrelay import runtime\n"
        "path = runtime.outputs_dir() / 'model.txt'\n"
        "path.write_text('weights')\n"
        "runtime.log_output('model', path)\n"
    )
    done = jobrelay(
        home,
        "submit",
        "--wait",
        "--json",
        "--key",
        "status-json-key",
        "--",
        sys.executable,
        str(script),
    )
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["ref"]["id"]
    shown = jobrelay(home, "status", "--json", job_id)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["ref"]["idempotency_key"] == "status-json-key"
    assert set(status["outputs"]) == {"model"}
