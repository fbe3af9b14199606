"""``cancel_orphaned_jobs``: the flow that cancels jobs whose flow run has ended.

The ``on_crashed`` / ``on_cancellation`` hooks (:func:`~prefect_jobrelay.cancel_flow_run_jobs`)
are the fast path, but a flow without them, a hook that never ran, or a flow-run process
killed before anything noticed leaves the job running. Deploy this flow on a schedule and
it sweeps the platform (:func:`jobrelay.integration.sweep`): it lists the platform's active
jobs of this Prefect installation (:mod:`prefect_jobrelay._ownership`), reads their flow
runs' states in one batch, and cancels each job whose flow run is final (Completed, Failed,
Crashed, Cancelled) or deleted for longer than ``grace_period`` seconds.

A flow run that is not final owns its job: Scheduled (also AwaitingRetry, a rerun that will
reattach by key), Pending, Running, Paused, Cancelling (its own cancel is under way). A
flow run whose state cannot be read (an API error) keeps its job. The grace period counts
from the final state's timestamp; for a deleted flow run, which has none, from the first
sweep that found it gone, remembered between runs in a Prefect Variable.

>>> cancel_orphaned_jobs.serve(                                   # doctest: +SKIP
...     name="jobrelay-reaper", interval=120, parameters={"credentials": "my-platform"}
... )
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from jobrelay.integration import (
    Owner,
    OwnerReport,
    OwnerState,
    SweepReport,
    stored_memory,
    sweep,
)
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterId,
)
from prefect.client.schemas.objects import State
from prefect.types import MAX_VARIABLE_VALUE_LENGTH
from prefect.variables import Variable

from prefect_jobrelay._credentials import JobRelayCredentials, resolve_credentials
from prefect_jobrelay._ownership import NONE, ORCHESTRATOR, installation_id
from prefect_jobrelay._reporting import run_logger

__all__ = ["PrefectOwnerLookup", "cancel_orphaned_jobs", "memory_variable"]

# The server's default page limit (PREFECT_API_DEFAULT_LIMIT): one read per this many runs.
PAGE = 200


def _when(value: Any) -> datetime | None:
    """An aware datetime from Prefect's timestamp (naive means UTC)."""
    if not isinstance(value, datetime):
        return None
    when = datetime.fromisoformat(value.isoformat())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def owner_report(state: State[Any] | None, end_time: Any = None) -> OwnerReport:
    """A flow run's (or task run's) state as the sweep's word: final -> ended, at the final
    state's timestamp (else the run's end time); anything else -> alive."""
    if state is None:
        return OwnerReport(OwnerState.ALIVE, detail="no state yet")
    detail = state.name or state.type.value
    if not state.is_final():
        return OwnerReport(OwnerState.ALIVE, detail=detail)
    return OwnerReport(
        OwnerState.ENDED, ended_at=_when(state.timestamp) or _when(end_time), detail=detail
    )


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


class PrefectOwnerLookup:
    """The states of flow runs (and of task runs outside any flow run) that own jobs, read
    with the Prefect client in one batch (a request per 200 runs).

    A run the server does not return is gone; an owner whose ids are not Prefect's is
    left out (unknown: its job stays); an error of the API raises (the sweep then leaves
    every job alone)."""

    orchestrator = ORCHESTRATOR

    def __init__(self, installation: str | None = None) -> None:
        self.installation = installation or installation_id()

    async def states(self, owners: Sequence[Owner]) -> Mapping[Owner, OwnerReport]:
        by_flow_run: dict[UUID, list[Owner]] = {}
        by_task_run: dict[UUID, list[Owner]] = {}
        for owner in owners:
            flow_part, task_part = (*owner.unit, NONE)[:2]
            if flow_part != NONE and (flow_run := _uuid(flow_part)) is not None:
                by_flow_run.setdefault(flow_run, []).append(owner)
            elif flow_part == NONE and (task_run := _uuid(task_part)) is not None:
                by_task_run.setdefault(task_run, []).append(owner)
        async with get_client() as client:
            found = await _reports(
                by_flow_run,
                lambda page: client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page)), limit=PAGE
                ),
            )
            found |= await _reports(
                by_task_run,
                lambda page: client.read_task_runs(
                    task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=page)), limit=PAGE
                ),
            )
        gone = OwnerReport(OwnerState.GONE, detail="not found (deleted)")
        answer: dict[Owner, OwnerReport] = {}
        for run_id, owned in (*by_flow_run.items(), *by_task_run.items()):
            for owner in owned:
                answer[owner] = found.get(run_id, gone)
        return answer


class _Run(Protocol):
    """What the sweep reads of a flow run or a task run."""

    @property
    def id(self) -> UUID: ...
    @property
    def state(self) -> State[Any] | None: ...
    @property
    def end_time(self) -> Any: ...


async def _reports(
    ids: Iterable[UUID], read: Callable[[list[UUID]], Awaitable[Sequence[_Run]]]
) -> dict[UUID, OwnerReport]:
    """The reports of the runs ``read`` returns for ``ids``, one read per ``PAGE`` of them; a
    run it does not return is left out (gone)."""
    ordered = sorted(ids, key=str)
    found: dict[UUID, OwnerReport] = {}
    for start in range(0, len(ordered), PAGE):
        runs = await read(ordered[start : start + PAGE])
        found.update({run.id: owner_report(run.state, run.end_time) for run in runs})
    return found


def memory_variable(platform: str, installation: str) -> str:
    """The Prefect Variable that keeps a reaper's memory for one platform and installation."""
    digest = hashlib.sha256(f"{platform}\n{installation}".encode()).hexdigest()[:16]
    return f"jobrelay_reaper_{digest}"


def _memory_to_keep(report: SweepReport) -> dict[str, str]:
    """The entries the next sweep needs (owners gone without an end time), oldest first,
    as many as fit in one Variable: the rest start their grace again next time, once the
    oldest are cancelled and make room."""
    cancelled = set() if report.dry_run else {ref.id for ref in report.cancelled}
    needed = {
        str(d.owner)
        for d in report.decisions
        if d.report.ended_at is None and d.job.ref.id not in cancelled
    }
    entries = sorted(
        ((owner, when) for owner, when in report.memory.items() if owner in needed),
        key=lambda item: item[1],
    )
    kept: dict[str, str] = {}
    for owner, when in entries:
        kept[owner] = when
        if len(json.dumps(kept)) >= MAX_VARIABLE_VALUE_LENGTH - 100:
            del kept[owner]
            break
    return kept


async def _load_memory(name: str) -> dict[str, str]:
    async with get_client() as client:
        variable = await client.read_variable_by_name(name)
    return stored_memory(None if variable is None else variable.value)


@flow(name="jobrelay-cancel-orphaned-jobs", log_prints=False)
async def cancel_orphaned_jobs(
    credentials: JobRelayCredentials | str,
    grace_period: float = 60.0,
    dry_run: bool = False,
    installation: str | None = None,
) -> dict[str, Any]:
    """Cancel the jobs on ``credentials``' platform (a block, a saved block's name, or a
    URL such as ``local://``) whose flow run in this Prefect installation has ended or was
    deleted more than ``grace_period`` seconds ago; ``dry_run`` only lists them.

    ``installation`` overrides the id this process derives (it must be the one the flow
    runs record: see :mod:`prefect_jobrelay._ownership`). Returns the sweep's summary:
    ``cancelled`` (or ``would_cancel``) with each job's owner and how long it has been
    ended, ``kept``, ``cancel_failed`` and ``lookup_error``.
    """
    logger = run_logger()
    creds = await resolve_credentials(credentials)
    lookup = PrefectOwnerLookup(installation)
    name = memory_variable(creds.platform, lookup.installation)
    memory = await _load_memory(name)
    async with creds.get_client() as client:
        report = await sweep(
            client, lookup, grace_s=grace_period, dry_run=dry_run, memory=memory, logger=logger
        )
    kept = _memory_to_keep(report)
    if kept != memory:
        await Variable.aset(name, kept, overwrite=True)
    summary = report.summary()
    done = "would cancel" if dry_run else "cancelled"
    logger.info(
        "Swept %s for Prefect installation %s: %d active job(s), %s %d",
        creds.platform,
        lookup.installation,
        summary["active_jobs_of_installation"],
        done,
        len(report.to_cancel) if dry_run else len(report.cancelled),
    )
    return summary
