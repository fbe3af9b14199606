"""The resource on a real Dagster instance and the real local platform: the job's lines in
the run's event log as they happen, once each and in order; the run record as the
materialization's metadata; a re-execution and a step retry that reattach."""

import sys
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_jobrelay import JobRelayResource, run_prefix

from tests.dagster import jobs
from tests.dagster.conftest import materialization_metadata, platform_jobs, user_messages

LINES = "; ".join(
    [
        "import sys, time, pathlib",
        "print('step 1 of 3', flush=True)",
        "print('a warning', file=sys.stderr, flush=True)",
        "[time.sleep(0.05) for _ in range(1600) if not pathlib.Path(sys.argv[1]).exists()]",
        "print('step 2 of 3', flush=True)",
        "print('step 3 of 3 (100%)', flush=True)",
    ]
)


def _wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_job_lines_reach_the_event_log_while_it_runs_once_each_in_order(
    instance: Any, home: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"

    @dg.asset
    def train(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> Any:
        return jobrelay.run(context, {"entrypoint": [sys.executable, "-c", LINES, str(go)]})

    results: list[Any] = []
    runner = threading.Thread(
        target=lambda: results.append(
            dg.materialize(
                [train],
                instance=instance,
                resources={"jobrelay": JobRelayResource(platform=f"local://{home}")},
            )
        )
    )
    runner.start()
    try:
        # The first line is in the event log while the job still waits for "go".
        seen = _wait_for(
            lambda: [
                run.run_id
                for run in instance.get_runs()
                if "step 1 of 3" in user_messages(instance, run.run_id)
            ]
        )
        assert seen, "the job's first line did not reach the event log while it ran"
        assert "step 2 of 3" not in user_messages(instance, seen[0])
    finally:
        go.touch()
        runner.join(60)
    result = results[0]
    assert result.success
    messages = user_messages(instance, result.run_id)
    record = materialization_metadata(instance, result.run_id, "train")
    job_id = record["job_id"]
    job_lines = [m for m in messages if m.startswith(("step ", "a warning"))]
    assert job_lines == ["step 1 of 3", "a warning", "step 2 of 3", "step 3 of 3 (100%)"]
    assert messages[0] == f"Submitted job {job_id} on {record['platform']}"
    assert messages.index(f"Job {job_id} is RUNNING") < messages.index("step 1 of 3")
    assert messages[-1] == f"Job {job_id} succeeded (exit code 0)"
    warnings = [
        entry.level
        for entry in instance.all_logs(result.run_id)
        if entry.user_message == "a warning"
    ]
    assert warnings == [30]  # stderr lines are warnings

    assert record["state"] == "SUCCEEDED"
    assert record["exit_code"] == 0
    assert record["platform"] == f"local://{home}"
    assert isinstance(record["queued_s"], float)
    assert record["ran_s"] > 0
    assert record["outputs"] == {}
    assert record["run_record"]["job_id"] == job_id
    assert record["run_record"]["ref"]["idempotency_key"].startswith(run_prefix(result.run_id))


def test_a_reexecution_from_failure_reuses_the_job_that_succeeded(
    instance: Any, home: Path, tmp_path: Path
) -> None:
    config = {
        "resources": {"jobrelay": {"config": {"platform": f"local://{home}"}}},
        "ops": {"prepare": {"config": {"path": str(tmp_path / "marker")}}},
    }
    job = dg.reconstructable(jobs.rerun_job)
    with dg.execute_job(job, instance, run_config=config, raise_on_error=False) as first:
        assert not first.success  # prepare's job succeeded, then its step failed
        first_id = first.run_id
    options = dg.ReexecutionOptions.from_failure(first_id, instance)
    with dg.execute_job(job, instance, run_config=config, reexecution_options=options) as again:
        assert again.success
        again_id = again.run_id

    assert instance.get_run_by_id(again_id).root_run_id == first_id
    prepared = materialization_metadata(instance, again_id, "prepare")
    assert prepared["run_record"]["reattached"] is True
    keys = [job.ref.idempotency_key for job in platform_jobs(f"local://{home}")]
    prepare_jobs = [key for key in keys if ":prepare:" in key]
    assert len(prepare_jobs) == 1, keys  # submitted once, in the first run
    assert prepare_jobs[0].startswith(run_prefix(first_id))
    assert user_messages(instance, first_id).count("prepared") == 1
    assert "prepared" in user_messages(instance, again_id)  # its log is read again, not rerun
    assert materialization_metadata(instance, again_id, "report")["state"] == "SUCCEEDED"


def test_a_step_retry_after_failing_while_waiting_runs_one_job(instance: Any, home: Path) -> None:
    config = {"resources": {"jobrelay": {"config": {"platform": f"local://{home}"}}}}
    with dg.execute_job(dg.reconstructable(jobs.retry_job), instance, run_config=config) as result:
        assert result.success
        run_id = result.run_id
    retries = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) == 1
    on_platform = platform_jobs(f"local://{home}")
    assert len(on_platform) == 1
    record = materialization_metadata(instance, run_id, "slow")
    assert record["job_id"] == on_platform[0].ref.id
    assert record["run_record"]["reattached"] is True
    assert record["state"] == "SUCCEEDED"


@pytest.fixture
def wandb_emulator(tmp_path: Path) -> Any:
    from jobrelay_emulators.local_home import stop_local_home
    from jobrelay_emulators.wandb import WandbEmulator

    emulator = WandbEmulator(api_key="jr-dagster-" + "7f3a9c" * 6, agent_home=tmp_path / "agent")
    emulator.start()
    emulator.create_queue("default")
    try:
        yield emulator
    finally:
        emulator.stop()
        stop_local_home(tmp_path / "agent")


def test_the_credential_never_shows_in_the_repr_event_log_or_metadata(
    wandb_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = wandb_emulator.api_key
    monkeypatch.setenv("JR_DAGSTER_TEST_KEY", secret)
    platform = (
        f"wandb://{wandb_emulator.entity}/dagster?queue=default&host={wandb_emulator.url}"
        "&image=python:3.11"
    )
    resource = JobRelayResource(platform=platform, credential=dg.EnvVar("JR_DAGSTER_TEST_KEY"))
    seen_repr: list[str] = []

    @dg.asset
    def scored(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> Any:
        seen_repr.append(repr(jobrelay))
        context.log.info("resource: %r", jobrelay)
        return jobrelay.run(context, {"entrypoint": "echo scored"})

    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = dg.materialize([scored], instance=instance, resources={"jobrelay": resource})
        assert result.success
        record = materialization_metadata(instance, result.run_id, "scored")
        assert record["state"] == "SUCCEEDED"
        events = [entry.to_json() for entry in instance.all_logs(result.run_id)]
        run = instance.get_run_by_id(result.run_id)
        stored = [
            str(run.run_config),
            str(run.tags),
            str(record),
            *events,
            *seen_repr,
            repr(resource),
        ]
        assert all(secret not in text for text in stored)
        assert "resource: JobRelayResource(platform=" in user_messages(instance, result.run_id)[0]
    # Nor anywhere in the instance's storage (run, event log and snapshot databases).
    for path in (tmp_path / "dagster").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_a_failed_job_fails_the_step_with_its_record_and_last_lines(
    instance: Any, home: Path
) -> None:
    code = "import sys; print('loading data'); sys.exit(3)"

    @dg.asset
    def broken(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> Any:
        return jobrelay.run(context, {"entrypoint": [sys.executable, "-c", code]})

    result = dg.materialize(
        [broken],
        instance=instance,
        resources={"jobrelay": JobRelayResource(platform=f"local://{home}")},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    data = failure.dagster_event.step_failure_data
    assert "failed with exit code 3" in data.error.message
    assert "loading data" in data.error.message  # the job's last lines
    metadata = {name: value.value for name, value in data.user_failure_data.metadata.items()}
    assert metadata["state"] == "FAILED"
    assert metadata["exit_code"] == 3
    assert "loading data" in user_messages(instance, result.run_id)
