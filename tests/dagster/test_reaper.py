"""Owners and the reaper sensor on a real Dagster instance and the real local platform: every
job the resource and the Pipes client submit names its owner (this instance, the run group,
the step); the sensor, evaluated against the instance, cancels a job whose run group ended,
and keeps a job whose group is alive, of another instance, or unreadable.

The launched-run cases (a SIGKILLed run worker, a re-execution that reattached) are in
``test_reaper_deployment.py``.
"""

import asyncio
import contextlib
import json
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_jobrelay import (
    DagsterOwnerLookup,
    JobRelayPipesClient,
    JobRelayResource,
    cancel_orphaned_jobs_sensor,
    installation_of,
)
from dagster_jobrelay._owners import INSTALLATION_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, JobSpec, JobState, WaitLimits
from jobrelay._owners import Owner
from jobrelay.errors import ConfigError
from jobrelay.integration import OwnerState

from tests.dagster.conftest import platform_jobs, user_messages

pytestmark = pytest.mark.filterwarnings(
    "ignore:InitResourceContext.dagster_run is deprecated:DeprecationWarning"
)

QUICK = [sys.executable, "-c", "print('done')"]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
NOT_FINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@pytest.fixture
def fresh_instance() -> Iterator[Any]:
    with dg.instance_for_test() as instance:
        yield instance


def _add_run(
    instance: Any, status: Any, root: str | None = None, ended: float | None = None
) -> str:
    """A run record in ``status`` (a re-execution of ``root`` when given)."""
    run_id = str(uuid.uuid4())
    tags = {"dagster/root_run_id": root, "dagster/parent_run_id": root} if root else {}
    instance.add_run(dg.DagsterRun(job_name="work", run_id=run_id, status=status, tags=tags))
    if ended is not None:
        with instance.run_storage.connect() as conn:  # the end time a finished run records
            from dagster._core.storage.runs.schema import RunsTable

            conn.execute(
                RunsTable.update()
                .where(RunsTable.c.run_id == run_id)
                .values(end_time=ended, status=status.value)
            )
    return run_id


def _submit(platform: str, owner: str, entrypoint: list[str] | None = None) -> str:
    async def submit() -> str:
        async with AsyncClient(platform) as client:
            spec = JobSpec(
                entrypoint=entrypoint or [sys.executable, "-c", "import time; time.sleep(120)"],
                owner=owner,
            )
            ref = await client.submit(spec)
            return ref.id

    return asyncio.run(submit())


def _state(platform: str, job_id: str) -> JobState:
    return next(j.state for j in platform_jobs(platform) if j.ref.id == job_id)


def _running(platform: str, job_id: str, timeout: float = 30.0) -> None:
    _reaches(platform, job_id, JobState.RUNNING, timeout)


def _reaches(platform: str, job_id: str, state: JobState, timeout: float = 10.0) -> bool:
    """Whether the job is in ``state`` within ``timeout`` (a cancelled local job's state
    turns once its agent has stopped the process group)."""
    deadline = time.monotonic() + timeout
    while _state(platform, job_id) is not state:
        assert time.monotonic() < deadline, f"job {job_id} is not {state.value}"
        time.sleep(0.1)
    return True


def _evaluate(
    sensor: dg.SensorDefinition, instance: Any, cursor: str | None = None, **kw: Any
) -> Any:
    with dg.build_sensor_context(instance=instance, cursor=cursor, **kw) as context:
        return sensor(context)


# -- owners on submitted jobs -------------------------------------------------------------


def test_every_submitted_job_names_its_instance_run_group_and_step(
    fresh_instance: Any, home: Path
) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["eu", "us"]))
    def train(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> Any:
        return jobrelay.run(context, {"entrypoint": QUICK}, wait=WaitLimits(run_timeout=30.0))

    platform = f"local://{home}"
    result = dg.materialize(
        [train],
        instance=fresh_instance,
        partition_key="eu",
        resources={"jobrelay": JobRelayResource(platform=platform)},
    )
    assert result.success
    (job,) = platform_jobs(platform)
    owner = Owner.parse(job.owner or "")
    installation = installation_of(fresh_instance)
    assert owner == Owner(
        "dagster", installation, (result.run_id, result.run_id, "train", "train", "eu")
    )
    # The platform's own deadline: the wait's run_timeout and a minute.
    with contextlib.closing(sqlite3.connect(home / "jobrelay.db")) as db:
        (timeout_s,) = db.execute(
            "SELECT timeout_s FROM jobs WHERE id = ?", (job.ref.id,)
        ).fetchone()
    assert timeout_s == 90.0


def test_forward_termination_false_leaves_the_job_unowned(fresh_instance: Any, home: Path) -> None:
    # Such a job is meant to outlive its run: the orphan sensor must not cancel it later.
    @dg.asset
    def free(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> Any:
        return jobrelay.run(context, {"entrypoint": QUICK})

    platform = f"local://{home}"
    resource = JobRelayResource(platform=platform, forward_termination=False)
    result = dg.materialize([free], instance=fresh_instance, resources={"jobrelay": resource})
    assert result.success
    (job,) = platform_jobs(platform)
    assert job.owner is None


def test_a_step_retry_follows_every_attempt_but_the_last(fresh_instance: Any) -> None:
    # An error that a step retry follows leaves the job for the retry (which reattaches by
    # its key); the last attempt's error cancels it.
    from dagster_jobrelay._resource import _retry_follows

    seen: list[bool] = []

    @dg.op(retry_policy=dg.RetryPolicy(max_retries=2))
    def flaky(context: dg.OpExecutionContext) -> None:
        seen.append(_retry_follows(context))
        if len(seen) < 3:
            raise RuntimeError("once more")

    @dg.job
    def retried() -> None:
        flaky()

    assert retried.execute_in_process(instance=fresh_instance).success
    assert seen == [True, True, False]


def test_the_pipes_client_records_the_owner_and_an_explicit_installation_wins(
    fresh_instance: Any, home: Path
) -> None:
    code = "from dagster_pipes import open_dagster_pipes\nwith open_dagster_pipes(): pass\n"

    @dg.asset
    def table(context: dg.AssetExecutionContext, pipes: JobRelayPipesClient) -> Any:
        return pipes.run(
            context=context, spec={"entrypoint": [sys.executable, "-c", code]}
        ).get_materialize_result()

    platform = f"local://{home}"
    resource = JobRelayResource(platform=platform, installation="prod-eu")
    result = dg.materialize(
        [table],
        instance=fresh_instance,
        resources={"pipes": JobRelayPipesClient(jobrelay=resource)},
    )
    assert result.success
    (job,) = platform_jobs(platform)
    assert job.owner == f"dagster:prod-eu:{result.run_id}:{result.run_id}:table:table:-"


def test_an_instance_that_cannot_keep_its_id_still_runs_the_job_without_an_owner(
    fresh_instance: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = fresh_instance.run_storage.get_cursor_values

    def refuse(keys: set[str]) -> Any:  # Dagster's own keys still answer
        if INSTALLATION_KEY in keys:
            raise NotImplementedError("no key-value store here")
        return read(keys)

    monkeypatch.setattr(fresh_instance.run_storage, "get_cursor_values", refuse)

    @dg.asset
    def train(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> Any:
        return jobrelay.run(context, {"entrypoint": QUICK})

    platform = f"local://{home}"
    resources = {"jobrelay": JobRelayResource(platform=platform)}
    result = dg.materialize([train], instance=fresh_instance, resources=resources)
    assert result.success
    (job,) = platform_jobs(platform)
    assert job.owner is None
    warned = [m for m in user_messages(fresh_instance, result.run_id) if "no owner" in m]
    assert warned
    assert "installation=" in warned[0]


def test_the_installation_is_one_per_instance_storage(tmp_path: Path) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    for folder in homes:
        folder.mkdir()
    ids = []
    for folder in [homes[0], homes[0], homes[1]]:
        # A new instance object each time: what a run worker, the daemon, a second run see.
        with dg.DagsterInstance.from_config(str(folder)) as instance:
            ids.append(installation_of(instance))
    assert ids[0] == ids[1] != ids[2]
    assert installation_of(None, "team-a.prod") == "team-a.prod"
    with pytest.raises(ConfigError, match="installation"):
        installation_of(None, "no spaces")


# -- the owner lookup -------------------------------------------------------------------


def test_a_group_is_alive_while_any_run_is_unfinished_and_ended_at_its_last_end(
    fresh_instance: Any,
) -> None:
    root = _add_run(fresh_instance, dg.DagsterRunStatus.FAILURE, ended=1_700_000_000.0)
    rerun = _add_run(fresh_instance, dg.DagsterRunStatus.STARTED, root=root)
    ended_root = _add_run(fresh_instance, dg.DagsterRunStatus.FAILURE, ended=1_700_000_000.0)
    _add_run(fresh_instance, dg.DagsterRunStatus.SUCCESS, root=ended_root, ended=1_700_000_050.0)
    lookup = DagsterOwnerLookup(fresh_instance, "i1")
    alive, ended, gone = (
        Owner("dagster", "i1", (group, group, "step", "-", "-"))
        for group in (root, ended_root, str(uuid.uuid4()))
    )
    states = asyncio.run(lookup.states([alive, ended, gone]))
    assert states[alive].state is OwnerState.ALIVE
    assert rerun in states[alive].detail
    assert states[ended].state is OwnerState.ENDED
    assert states[ended].ended_at is not None
    assert states[ended].ended_at.timestamp() == 1_700_000_050.0
    assert states[ended].detail == "SUCCESS"
    assert states[gone].state is OwnerState.GONE


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    groups=st.lists(
        st.lists(st.sampled_from(FINISHED + NOT_FINISHED), min_size=0, max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_the_lookup_answers_every_group_by_its_runs(instance: Any, groups: list[list[Any]]) -> None:
    lookup = DagsterOwnerLookup(instance, "i1")
    owners: dict[Owner, list[Any]] = {}
    for statuses in groups:
        root = str(uuid.uuid4())
        if statuses:
            root = _add_run(instance, statuses[0])
            for status in statuses[1:]:
                _add_run(instance, status, root=root)
        owners[Owner("dagster", "i1", (root, root, "s", "-", "-"))] = statuses
    states = asyncio.run(lookup.states(list(owners)))
    for owner, statuses in owners.items():
        if not statuses:
            expected = OwnerState.GONE
        elif any(s in NOT_FINISHED for s in statuses):
            expected = OwnerState.ALIVE
        else:
            expected = OwnerState.ENDED
        assert states[owner].state is expected, (statuses, states[owner])


# -- the sensor against the instance and the platform --------------------------------------


def test_the_sensor_cancels_the_job_of_an_ended_group_and_keeps_the_others(
    fresh_instance: Any, home: Path
) -> None:
    platform = f"local://{home}"
    mine = installation_of(fresh_instance)
    failed = _add_run(fresh_instance, dg.DagsterRunStatus.FAILURE, ended=time.time() - 5)
    running = _add_run(fresh_instance, dg.DagsterRunStatus.STARTED)
    orphan = _submit(platform, f"dagster:{mine}:{failed}:{failed}:train:train:-")
    alive = _submit(platform, f"dagster:{mine}:{running}:{running}:train:train:-")
    other = _submit(platform, f"dagster:someone-else:{failed}:{failed}:train:train:-")
    _running(platform, orphan)  # the others may wait in the queue: active all the same

    sensor = cancel_orphaned_jobs_sensor(grace_period=0)
    resources = {"jobrelay": JobRelayResource(platform=platform)}
    dry = cancel_orphaned_jobs_sensor(platform=platform, grace_period=0, dry_run=True)
    dry_result = _evaluate(dry, fresh_instance)
    assert [c["job"] for c in json.loads(dry_result.skip_reason.skip_message)["would_cancel"]] == [
        orphan
    ]
    assert _state(platform, orphan) is JobState.RUNNING

    # A tick's path (the daemon's): the resource comes from the context.
    with dg.build_sensor_context(instance=fresh_instance, resources=resources) as context:
        result = sensor.evaluate_tick(context)
    assert not result.run_requests
    assert result.skip_message is not None
    summary = json.loads(result.skip_message)
    assert [c["job"] for c in summary["cancelled"]] == [orphan]
    assert summary["cancelled"][0]["owner_state"] == "FAILURE"
    assert summary["kept"] == 1  # the alive one; the other instance's job is not even looked at
    assert _reaches(platform, orphan, JobState.CANCELLED)
    assert _state(platform, alive).is_active
    assert _state(platform, other).is_active


def test_the_grace_period_counts_from_the_runs_end_and_the_cursor_keeps_the_memory(
    fresh_instance: Any, home: Path
) -> None:
    platform = f"local://{home}"
    mine = installation_of(fresh_instance)
    ended = _add_run(fresh_instance, dg.DagsterRunStatus.FAILURE, ended=time.time() + 3600)
    failed = _add_run(fresh_instance, dg.DagsterRunStatus.FAILURE)  # no end time recorded
    within = _submit(platform, f"dagster:{mine}:{ended}:{ended}:train:train:-")
    job = _submit(platform, f"dagster:{mine}:{failed}:{failed}:train:train:-")
    _running(platform, within)
    sensor = cancel_orphaned_jobs_sensor(platform=platform, grace_period=3)
    # The run's own end time counts (here in the future: clock skew, "not yet"); a run
    # without one counts from the first tick that saw it ended, kept in the cursor.
    first = _evaluate(sensor, fresh_instance)
    assert json.loads(first.skip_reason.skip_message)["cancelled"] == []
    assert f"dagster:{mine}:{failed}:{failed}:train:train:-" in json.loads(first.cursor)["memory"]
    time.sleep(3.2)
    forgot = _evaluate(sensor, fresh_instance)  # no cursor: the grace period starts again
    assert json.loads(forgot.skip_reason.skip_message)["cancelled"] == []
    second = _evaluate(sensor, fresh_instance, cursor=first.cursor)
    assert [c["job"] for c in json.loads(second.skip_reason.skip_message)["cancelled"]] == [job]
    assert _reaches(platform, job, JobState.CANCELLED)
    assert _state(platform, within).is_active


class _BrokenInstance:
    """The real instance, whose run storage fails to answer (a database outage)."""

    def __init__(self, instance: Any) -> None:
        self._instance = instance

    def __getattr__(self, name: str) -> Any:
        return getattr(self._instance, name)

    def get_run_records(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("run storage unreachable")


def test_an_unreadable_instance_cancels_nothing_and_says_so(
    fresh_instance: Any, home: Path
) -> None:
    from jobrelay.integration import sweep

    platform = f"local://{home}"
    failed = _add_run(fresh_instance, dg.DagsterRunStatus.FAILURE, ended=time.time() - 600)
    job = _submit(platform, f"dagster:i1:{failed}:{failed}:train:train:-")
    _running(platform, job)

    async def once() -> Any:
        async with AsyncClient(platform) as client:
            return await sweep(
                client, DagsterOwnerLookup(_BrokenInstance(fresh_instance), "i1"), grace_s=0
            )

    report = asyncio.run(once())
    assert "run storage unreachable" in (report.lookup_error or "")
    assert report.cancelled == []
    assert _state(platform, job) is JobState.RUNNING


def test_bad_sensor_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="grace_period"):
        cancel_orphaned_jobs_sensor(grace_period=-1)
    with pytest.raises(ConfigError, match="platform"):
        cancel_orphaned_jobs_sensor(JobRelayResource(), platform="local://")
