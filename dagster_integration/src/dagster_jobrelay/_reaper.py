"""The reaper: a sensor that cancels the jobs whose Dagster run group has ended.

A step cancels its job when its run is terminated (:mod:`dagster_jobrelay._termination`).
When the run worker dies instead (SIGKILL, a lost node, an out-of-memory kill), Dagster
marks the run FAILURE and nothing stops the job. The sensor from
:func:`cancel_orphaned_jobs_sensor` runs :func:`jobrelay.integration.sweep` on a tick:
it lists the platform's active jobs owned by this Dagster instance
(:mod:`dagster_jobrelay._owners`), reads their run groups' states from the instance in one
batch, and cancels each job whose group has ended (or is deleted) longer than the grace
period ago. It never launches runs: each tick is skipped with the sweep's summary as the
reason, and the cancels are in the tick's log.

>>> defs = dg.Definitions(                                            # doctest: +SKIP
...     assets=[train],
...     sensors=[cancel_orphaned_jobs_sensor()],
...     resources={"jobrelay": JobRelayResource(platform="ray://head:8265")},
... )
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from jobrelay import ConfigError
from jobrelay.integration import (
    Owner,
    OwnerReport,
    OwnerState,
    check_grace,
    stored_memory,
    sweep,
)

from dagster_jobrelay._identity import NAMESPACE
from dagster_jobrelay._owners import installation_of
from dagster_jobrelay._pipes import JobRelayPipesClient
from dagster_jobrelay._resource import JobRelayResource

__all__ = ["DagsterOwnerLookup", "cancel_orphaned_jobs_sensor"]

T = TypeVar("T")

ROOT_RUN_ID_TAG = "dagster/root_run_id"  # every run of a re-execution carries its root's id
GROUPS_PER_QUERY = 100


class DagsterOwnerLookup:
    """The states of owners' run groups, read from a Dagster instance.

    An owner's group (its first unit part) is the root run and every run whose
    ``dagster/root_run_id`` tag names it. The owner is ALIVE while any run of the group is
    not finished (a re-execution that reattached to the job keeps it), ENDED once all are
    finished (``ended_at`` the latest end), GONE when the instance knows none of them.
    Two run-storage queries per 100 groups.
    """

    orchestrator = NAMESPACE

    def __init__(self, instance: Any, installation: str) -> None:
        self.instance = instance
        self.installation = installation

    async def states(self, owners: Sequence[Owner]) -> Mapping[Owner, OwnerReport]:
        # The storage calls block: off the loop, so the sweep's timeout holds.
        return await asyncio.to_thread(self.read, owners)

    def read(self, owners: Sequence[Owner]) -> dict[Owner, OwnerReport]:
        """What :meth:`states` answers, synchronously (raises on a storage error)."""
        groups = sorted({owner.unit[0] for owner in owners})
        runs: dict[str, dict[str, Any]] = {group: {} for group in groups}
        for start in range(0, len(groups), GROUPS_PER_QUERY):
            chunk = groups[start : start + GROUPS_PER_QUERY]
            for record in self.instance.get_run_records(RunsFilter(run_ids=chunk)):
                runs[record.dagster_run.run_id][record.dagster_run.run_id] = record
            tagged = RunsFilter(tags={ROOT_RUN_ID_TAG: chunk})
            for record in self.instance.get_run_records(tagged):
                root = record.dagster_run.tags.get(ROOT_RUN_ID_TAG)
                if root in runs:
                    runs[root][record.dagster_run.run_id] = record
        reports = {group: _group_report(list(found.values())) for group, found in runs.items()}
        return {owner: reports[owner.unit[0]] for owner in owners}


def _group_report(records: list[Any]) -> OwnerReport:
    if not records:
        return OwnerReport(OwnerState.GONE, detail="no run of the group in the instance")
    running = [r for r in records if not r.dagster_run.is_finished]
    if running:
        newest = max(running, key=lambda r: r.create_timestamp).dagster_run
        return OwnerReport(OwnerState.ALIVE, detail=f"run {newest.run_id} is {newest.status.value}")
    last = max(records, key=lambda r: (r.end_time or 0.0, r.create_timestamp))
    ends = [r.end_time for r in records]
    # A finished run without an end time: the grace counts from the first sweep that saw it.
    ended_at = None if None in ends else datetime.fromtimestamp(max(ends), UTC)
    status: DagsterRunStatus = last.dagster_run.status
    return OwnerReport(OwnerState.ENDED, ended_at=ended_at, detail=status.value)


def cancel_orphaned_jobs_sensor(
    jobrelay: JobRelayResource | None = None,
    *,
    resource_key: str = "jobrelay",
    platform: str | None = None,
    grace_period: float | timedelta = 60.0,
    minimum_interval_seconds: int = 60,
    dry_run: bool = False,
    name: str = "cancel_orphaned_jobs",
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """A sensor that cancels the jobs of this instance whose run group ended more than
    ``grace_period`` (seconds or a ``timedelta``) ago, once every
    ``minimum_interval_seconds``. It never requests a run.

    Where the jobs run: the resource ``resource_key`` of the ``Definitions`` (a
    :class:`JobRelayResource`, or a :class:`JobRelayPipesClient` whose ``jobrelay`` is
    taken), unless ``jobrelay`` (a resource) or ``platform`` (a URL) is given here. The
    installation is the resource's ``installation`` if set, else the instance's own id, as
    in the run worker. ``dry_run`` logs and reports what it would cancel, and cancels
    nothing. The sensor starts running by default (``default_status``).

    Raises ``ConfigError`` for a negative grace period or both ``jobrelay`` and
    ``platform``.
    """
    seconds = grace_period.total_seconds() if isinstance(grace_period, timedelta) else grace_period
    grace_s = check_grace(seconds, field="grace_period")
    if jobrelay is not None and platform is not None:
        raise ConfigError("give jobrelay or platform, not both", field="platform")
    given = jobrelay
    if given is None and platform is not None:
        given = JobRelayResource(platform=platform)
    needs = set() if given is not None else {resource_key}

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys=needs,
        description=(
            "Cancels the jobrelay jobs whose Dagster run group ended more than "
            f"{grace_s:g} s ago{' (dry run)' if dry_run else ''}; launches no runs."
        ),
    )
    def cancel_orphaned_jobs(context: SensorEvaluationContext, **resources: Any) -> SensorResult:
        # Called directly, Dagster hands the resource as a keyword named by its key; on a
        # tick (the daemon's path) it is only in the context.
        found = resources.get(resource_key) or getattr(context.resources, resource_key, None)
        resource = _resource(given, found, resource_key)
        installation = installation_of(context.instance, resource.installation)
        lookup = DagsterOwnerLookup(context.instance, installation)

        async def once() -> Any:
            async with resource.get_async_client() as client:
                return await sweep(
                    client,
                    lookup,
                    grace_s=grace_s,
                    dry_run=dry_run,
                    memory=_memory(context.cursor),
                    logger=context.log,
                )

        report = _run(once())
        summary = json.dumps(report.summary(), sort_keys=True)
        return SensorResult(
            skip_reason=SkipReason(summary),
            cursor=json.dumps({"memory": report.memory}, sort_keys=True),
        )

    return cancel_orphaned_jobs


def _resource(given: JobRelayResource | None, found: Any, key: str) -> JobRelayResource:
    if given is not None:
        # A resource built in code holds EnvVar names until Dagster resolves them.
        initialized: JobRelayResource = given.process_config_and_initialize()
        return initialized
    if isinstance(found, JobRelayPipesClient):
        found = found.jobrelay
    if not isinstance(found, JobRelayResource):
        raise ConfigError(
            f"resource {key!r} is a {type(found).__name__}, not a JobRelayResource",
            field="resource_key",
        )
    return found


def _memory(cursor: str | None) -> dict[str, str]:
    """The sweep's memory the sensor's cursor (``{"memory": {...}}``) holds."""
    try:
        held = json.loads(cursor) if cursor else None
    except ValueError:
        return {}  # a damaged cursor only restarts the grace periods it held
    return stored_memory(held.get("memory") if isinstance(held, dict) else None)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    # Evaluated where a loop already runs on this thread: the sweep gets its own thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()
