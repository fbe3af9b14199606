"""The reaper sensor in a real deployment: a run worker SIGKILLed mid-wait leaves its job
running (Dagster marks the run FAILURE and stops nothing); the sensor, evaluated by the real
daemon (``dagster-daemon run``) against the code server, cancels it at its first tick after
the run is FAILURE; a re-execution that reattached to the job keeps it.

The harness is ``test_termination``'s: a code server serving ``deployment.py``, runs
launched with ``dagster job launch`` through the instance's ``DefaultRunLauncher`` (each run
worker a process of its own, its step a further process with the multiprocess executor), a
local platform in a temporary home, and GraphQL (``dagster-graphql``, from a throwaway
environment) for the re-execution, the UI's "Re-execute from failure".
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from jobrelay import JobState

from tests.dagster.test_termination import (
    DAGSTER,
    Deployment,
    _run_status_within,
    code_server,
    dagster_graphql,
    deployment,
)

# A code server, a daemon and up to two launched runs: minutes on two shared cores.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

__all__ = ["code_server", "dagster_graphql", "deployment"]  # fixtures, used by name

INTERVAL_S = 5
REEXECUTE = """
mutation Reexecute($parentRunId: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parentRunId, strategy: FROM_FAILURE}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


@pytest.fixture
def reaper_env(deployment: Deployment) -> Deployment:
    """The deployment's environment for the reaper: where steps say who they are, the
    sensor's tick and grace period (0: a job is cancelled at the first tick that sees its
    run group ended)."""
    steps = deployment.dagster_home.parent / "steps"
    steps.mkdir()
    deployment.env.update(
        JR_DAGSTER_STEPS=str(steps),
        JR_DAGSTER_SENSOR_INTERVAL=str(INTERVAL_S),
        JR_DAGSTER_GRACE_S="0",
    )
    return deployment


@pytest.fixture
def served(reaper_env: Deployment, code_server: int) -> tuple[Deployment, int]:
    return reaper_env, code_server


class Daemon:
    """``dagster-daemon run`` on the deployment's instance, loading the code server's
    definitions; stopped (with its process group) by :meth:`stop`."""

    def __init__(self, deployment: Deployment, port: int) -> None:
        workspace = deployment.dagster_home / "workspace.yaml"
        workspace.write_text(
            "load_from:\n"
            "  - grpc_server:\n"
            "      host: 127.0.0.1\n"
            f"      port: {port}\n"
            "      location_name: deployment\n"
        )
        self.log = deployment.dagster_home / "daemon.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [DAGSTER[0], "-m", "dagster._daemon", "run", "-w", str(workspace)],
                cwd=deployment.dagster_home,
                env=deployment.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@pytest.fixture
def daemons(served: tuple[Deployment, int]) -> Iterator[list[Daemon]]:
    """Start a daemon with ``daemons.append(Daemon(...))``; all are stopped afterwards."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()


def _launch(deployment: Deployment, port: int, job: str) -> str:
    run_id = str(uuid.uuid4())
    subprocess.run(
        [
            *(*DAGSTER, "job", "launch", "-j", job, "--run-id", run_id),
            *("--grpc-host", "127.0.0.1", "--grpc-port", str(port)),
        ],
        env=deployment.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return run_id


def _run_worker(deployment: Deployment, run_id: str) -> int:
    """The run worker of ``run_id``: the step's process with the in-process executor, its
    parent with the multiprocess one (the run worker is a child of the code server's
    ``dagster api grpc`` process)."""
    pid, parent = map(int, (Path(deployment.env["JR_DAGSTER_STEPS"]) / run_id).read_text().split())
    if "grpc" in psutil.Process(parent).cmdline():
        return pid
    return parent


def _kill_run_worker(
    deployment: Deployment, run_id: str, *, when_job_runs: bool = True
) -> tuple[float, float]:
    """SIGKILL the run worker (once the run's job runs); when it was killed, and the run's
    end time once it is FAILURE."""
    if when_job_runs:
        deployment.group_of_job(run_id, timeout=120)
    killed = time.time()
    os.kill(_run_worker(deployment, run_id), signal.SIGKILL)
    assert _run_status_within(deployment, run_id, "FAILURE", 60) == "FAILURE"
    return killed, _run_end(deployment, run_id)


def _run_end(deployment: Deployment, run_id: str) -> float:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(deployment.dagster_home)) as instance:
        record = instance.get_run_record_by_id(run_id)
    assert record is not None
    assert record.end_time is not None
    return float(record.end_time)


def sensor_ticks(deployment: Deployment) -> list[tuple[float, dict[str, Any]]]:
    """The reaper sensor's ticks so far, oldest first: (start time, the summary it skipped
    with)."""
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorType

    ticks: list[tuple[float, dict[str, Any]]] = []
    with dg.DagsterInstance.from_config(str(deployment.dagster_home)) as instance:
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.name != "cancel_orphaned_jobs":
                continue
            for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id):
                error = tick.error.to_string() if tick.error else None
                assert error is None, f"the sensor failed: {error}"
                if tick.skip_reason:
                    ticks.append((tick.timestamp, json.loads(tick.skip_reason)))
    return sorted(ticks, key=lambda t: t[0])


def _ticks_after(deployment: Deployment, since: float, count: int, seconds: float) -> list[Any]:
    deadline = time.monotonic() + seconds
    while True:
        ticks = [t for t in sensor_ticks(deployment) if t[0] >= since]
        if len(ticks) >= count or time.monotonic() > deadline:
            return ticks
        time.sleep(0.5)


def _cancelled(summary: dict[str, Any]) -> list[str]:
    return [entry["job"] for entry in summary.get("cancelled", [])]


@pytest.mark.parametrize("job", ["long_in_process", "long"], ids=["in-process", "multiprocess"])
def test_a_killed_run_workers_job_is_cancelled_at_the_first_tick_after_failure(
    served: tuple[Deployment, int],
    daemons: list[Daemon],
    job: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment, port = served
    daemons.append(Daemon(deployment, port))
    run_id = _launch(deployment, port, job)
    killed, ended = _kill_run_worker(deployment, run_id)
    # Dagster stops nothing (in the multiprocess case the step process even lives on,
    # waiting); the tick that cancels can come at any moment now, so the proof that the
    # sensor cancelled the job is that tick's own list: it lists only jobs it cancelled.
    (job_status,) = deployment.jobs_of(run_id)

    ticks = _ticks_after(deployment, ended, 1, INTERVAL_S + 60)
    assert ticks, "no sensor tick after the run ended:\n" + deployment_log(daemons[0])
    first_at, first = ticks[0]
    assert _cancelled(first) == [job_status.ref.id], first
    assert first["cancelled"][0]["owner_state"] == "FAILURE"
    assert deployment.cancelled_within(run_id, 10.0) is not None
    (cancelled,) = deployment.jobs_of(run_id)
    assert cancelled.ended_at is not None
    after_failure = cancelled.ended_at.timestamp() - ended
    starts = [at for at, _ in sensor_ticks(deployment)]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(starts)]
    with capsys.disabled():
        print(
            f"\n  {job}: run FAILURE {ended - killed:.2f} s after the SIGKILL; first tick "
            f"{first_at - ended:.2f} s after, job CANCELLED {after_failure:.2f} s after FAILURE "
            f"(minimum_interval_seconds={INTERVAL_S}; ticks {gaps} s apart)"
        )


def test_a_reexecution_that_reattached_keeps_the_job_until_its_group_ends(
    served: tuple[Deployment, int],
    daemons: list[Daemon],
    dagster_graphql: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment, port = served
    run_id = _launch(deployment, port, "long_in_process")
    _kill_run_worker(deployment, run_id)
    (orphan,) = deployment.jobs_of(run_id)

    answer = subprocess.run(
        [
            *dagster_graphql,
            *("--grpc-host", "127.0.0.1", "--grpc-port", str(port)),
            *("-t", REEXECUTE, "-v", json.dumps({"parentRunId": run_id})),
        ],
        cwd=deployment.dagster_home,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    launched = json.loads(answer.stdout)["data"]["launchRunReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    rerun = launched["run"]["runId"]
    steps = Path(deployment.env["JR_DAGSTER_STEPS"])
    _wait_until(lambda: (steps / rerun).exists(), 120, "the re-execution's step never ran")
    _wait_until(
        lambda: any("Reattached to job" in m for m in _messages(deployment, rerun)),
        60,
        "the re-execution did not reattach",
    )

    # The daemon starts only now, with a grace period of 0: the run that submitted the job
    # ended long ago; only its group's re-execution, still running, owns it.
    daemons.append(Daemon(deployment, port))
    started = time.time()
    ticks = _ticks_after(deployment, started, 2, 2 * INTERVAL_S + 90)
    assert len(ticks) >= 2, "fewer than two sensor ticks:\n" + deployment_log(daemons[0])
    for _, summary in ticks:
        assert _cancelled(summary) == [], summary
        assert summary["kept"] == 1, summary
    (kept,) = deployment.jobs_of(run_id)
    assert kept.ref.id == orphan.ref.id
    assert kept.state is JobState.RUNNING

    # Once the re-execution's worker dies too, the group has ended: the next tick cancels.
    _, rerun_ended = _kill_run_worker(deployment, rerun, when_job_runs=False)
    after = _ticks_after(deployment, rerun_ended, 1, INTERVAL_S + 60)
    assert after, "no sensor tick after the re-execution ended"
    assert _cancelled(after[0][1]) == [orphan.ref.id], after
    assert deployment.cancelled_within(run_id, 10.0) is not None
    with capsys.disabled():
        print(
            f"\n  re-execution reattached: {len(ticks)} ticks kept the job; after its worker "
            f"was killed, the first tick ({after[0][0] - rerun_ended:.2f} s later) cancelled it"
        )


def _messages(deployment: Deployment, run_id: str) -> list[str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(deployment.dagster_home)) as instance:
        return [entry.user_message for entry in instance.all_logs(run_id) if entry.user_message]


def _wait_until(check: Any, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def deployment_log(daemon: Daemon) -> str:
    return "".join(daemon.log.read_text(errors="replace").splitlines(keepends=True)[-30:])
