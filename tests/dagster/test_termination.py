"""Terminating a run in a real deployment cancels its job (reference §5: Dagster itself never
stops a job in its own process group).

A code server (``dagster code-server start``) serves ``deployment.py``; runs are launched
with ``dagster job launch`` through the instance's ``DefaultRunLauncher``, so each run
has its own run worker and step process, as in production. Termination is GraphQL's
``terminateRun`` sent by the ``dagster-graphql`` command to the code server, the mutation
the UI's Terminate sends. ``dagster-graphql`` is not one of the project's dependencies: it
runs from a throwaway environment (``uv venv`` + ``uv pip install`` in a temporary folder)
with the project's exact Dagster version, on the same instance (``DAGSTER_HOME``, SQLite),
and needs no project code: the code server holds the definitions. The Ctrl-C case
sends two SIGINTs 11 ms apart to the process group of ``dagster asset materialize``, as a
terminal does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from dagster_jobrelay import run_prefix
from jobrelay import AsyncClient, JobState, JobStatus
from jobrelay_emulators.contract.processes import group_gone_within, group_members

from tests.dagster.conftest import ROOT
from tests.vendor_sdks import skip_if_unreachable, uv_command

pytestmark = pytest.mark.slow

DEFS = ROOT / "tests" / "dagster" / "deployment.py"
DAGSTER = [sys.executable, "-m", "dagster"]
TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


class Deployment:
    """A Dagster home, a local platform home and the environment the processes share."""

    def __init__(self, root: Path) -> None:
        self.dagster_home = root / "dagster"
        self.markers = root / "markers"
        self.platform = f"local://{root / 'jobs'}"
        self.jobs_home = root / "jobs"
        for folder in (self.dagster_home, self.markers):
            folder.mkdir(parents=True)
        (self.dagster_home / "dagster.yaml").write_text(
            "run_coordinator:\n"
            "  module: dagster._core.run_coordinator\n"
            "  class: DefaultRunCoordinator\n"
            "run_launcher:\n"
            "  module: dagster._core.launcher\n"
            "  class: DefaultRunLauncher\n"
            "telemetry:\n"
            "  enabled: false\n"
        )
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.dagster_home),
            "JR_DAGSTER_PLATFORM": self.platform,
            "JR_DAGSTER_MARKERS": str(self.markers),
            "DAGSTER_TELEMETRY_ENABLED": "false",
        }

    def group_of_job(self, run_id: str | None = None, timeout: float = 60.0) -> int:
        """The job's process group id, once the job of ``run_id`` (or any run) runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p for p in self.markers.iterdir() if run_id is None or p.name == run_id]
            if found and found[0].read_text():
                return int(found[0].read_text())
            time.sleep(0.05)
        raise AssertionError(f"no job of run {run_id or '(any)'} started within {timeout} s")

    def run_status(self, run_id: str) -> str:
        import dagster as dg

        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            return str(instance.get_run_by_id(run_id).status.value)

    def canceling_at(self, run_id: str) -> float:
        """When the instance recorded the run's RUN_CANCELING event (the mutation's own act),
        as a Unix timestamp."""
        import dagster as dg

        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            events = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_CANCELING)
        assert events, f"run {run_id} has no RUN_CANCELING event"
        return float(events[0].timestamp)

    def jobs_of(self, run_id: str) -> list[JobStatus]:
        async def listed() -> list[JobStatus]:
            async with AsyncClient(self.platform) as client:
                jobs = await client.list_jobs(limit=50)
            return [j for j in jobs if (j.ref.idempotency_key or "").startswith(run_prefix(run_id))]

        return asyncio.run(listed())

    def cancelled_within(self, run_id: str, seconds: float) -> float | None:
        """Seconds until the run's job is CANCELLED, or None if not within ``seconds``."""
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            jobs = self.jobs_of(run_id)
            if jobs and all(job.state is JobState.CANCELLED for job in jobs):
                return time.monotonic() - start
            time.sleep(0.1)
        return None


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    from jobrelay_emulators.local_home import stop_local_home

    made = Deployment(tmp_path)
    yield made
    stop_local_home(made.jobs_home)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def code_server(deployment: Deployment) -> Iterator[int]:
    """``dagster code-server start`` on 127.0.0.1 in its own process group (its run workers
    and step processes join it, and go with it)."""
    port = _free_port()
    server = subprocess.Popen(
        [*DAGSTER, "code-server", "start", "-f", str(DEFS), "-h", "127.0.0.1", "-p", str(port)],
        env=deployment.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    ready = threading.Event()
    output: list[str] = []

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            output.append(line)
            if "Started Dagster code server" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(90), "the code server did not start:\n" + "".join(output[-20:])
        yield port
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
        assert server.stdout is not None
        server.stdout.close()


@pytest.fixture(scope="module")
def dagster_graphql(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The ``dagster-graphql`` command of a throwaway environment (never the project's) with
    the project's exact Dagster, so both read the instance's SQLite schema alike. Built once
    with its bytecode, so that a call is the command's own start (3 s, not 18 s); skipped only
    if the registry is out of reach and the packages are not cached."""
    pins = [f"dagster=={version('dagster')}", f"dagster-graphql=={version('dagster')}"]
    env = tmp_path_factory.mktemp("graphql") / "env"
    uv, python = uv_command(), str(env / "bin" / "python")
    for step in (
        [*uv, "venv", "-q", "--python", sys.executable, str(env)],
        [*uv, "pip", "install", "-q", "--python", python, "--compile-bytecode", *pins],
    ):
        built = subprocess.run(step, cwd=env.parent, capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            skip_if_unreachable(" ".join(pins), built.stderr)
    return [str(env / "bin" / "dagster-graphql")]


def _terminate_run(command: list[str], deployment: Deployment, port: int, run_id: str) -> Any:
    """GraphQL ``terminateRun`` (SAFE_TERMINATE, what the UI's Terminate sends) against the
    code server; the answer the command printed."""
    answer = subprocess.run(
        [
            *command,
            *("--grpc-host", "127.0.0.1", "--grpc-port", str(port)),
            *("-t", TERMINATE, "-v", json.dumps({"runId": run_id})),
        ],
        cwd=deployment.dagster_home,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return json.loads(answer.stdout)


def _run_status_within(deployment: Deployment, run_id: str, wanted: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    status = deployment.run_status(run_id)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        status = deployment.run_status(run_id)
    return status


def test_terminating_a_launched_run_cancels_its_job(
    deployment: Deployment,
    code_server: int,
    dagster_graphql: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = str(uuid.uuid4())
    subprocess.run(
        [
            *(*DAGSTER, "job", "launch", "-j", "long", "--run-id", run_id),
            *("--grpc-host", "127.0.0.1", "--grpc-port", str(code_server)),
        ],
        env=deployment.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    pgid = deployment.group_of_job(run_id, timeout=90)
    assert group_members(pgid)

    asked = time.monotonic()
    answer = _terminate_run(dagster_graphql, deployment, code_server, run_id)
    started = time.monotonic()  # the mutation has answered: the run is being terminated
    assert answer["data"]["terminateRun"]["__typename"] == "TerminateRunSuccess", answer
    assert answer["data"]["terminateRun"]["run"]["runId"] == run_id
    cancelled = deployment.cancelled_within(run_id, 10.0)
    assert cancelled is not None, f"job state: {[j.state for j in deployment.jobs_of(run_id)]}"
    assert asyncio.run(group_gone_within(pgid, max(10.0 - (time.monotonic() - started), 0.5)))
    assert _run_status_within(deployment, run_id, "CANCELED", 30) == "CANCELED"
    # Measured from the mutation itself, not from the command's start or answer.
    (job,) = deployment.jobs_of(run_id)
    assert job.ended_at is not None
    assert job.ended_at.tzinfo is not None
    after_canceling = job.ended_at.timestamp() - deployment.canceling_at(run_id)
    assert 0 <= after_canceling <= 10.0
    with capsys.disabled():
        print(
            f"\n  dagster-graphql terminateRun answered in {started - asked:.2f} s: "
            f"{json.dumps(answer)}; job CANCELLED {cancelled:.2f} s after the answer, "
            f"{after_canceling:.2f} s after the run's RUN_CANCELING event"
        )


def test_two_sigints_to_the_materialize_command_still_cancel_the_job(
    deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (tmp_path / "materialize.log").open("wb") as output:
        command = subprocess.Popen(
            [*DAGSTER, "asset", "materialize", "-f", str(DEFS), "--select", "long_job"],
            env=deployment.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        pgid = deployment.group_of_job(timeout=90)
        run_id = next(deployment.markers.iterdir()).name
        started = time.monotonic()
        os.killpg(command.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group, twice
        time.sleep(0.011)
        os.killpg(command.pid, signal.SIGINT)
        cancelled = deployment.cancelled_within(run_id, 10.0)
        assert cancelled is not None, f"job state: {[j.state for j in deployment.jobs_of(run_id)]}"
        assert asyncio.run(group_gone_within(pgid, max(10.0 - (time.monotonic() - started), 0.5)))
        assert command.wait(60) != 0
        assert deployment.run_status(run_id) != "SUCCESS"
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait(10)
    with capsys.disabled():
        print(f"\n  two SIGINTs: job CANCELLED {cancelled:.2f} s after the first")
