"""The second line of defence: cancel the jobs whose owner has ended.

A waiting process cancels its job on every exit it lives through. When it dies, never
starts, or never hears of the user's action, the job would run on. So every job an adapter
submits records its owner (:class:`~jobrelay._owners.Owner`), and a sweep that runs outside
the task (an Airflow DAG on a schedule, a Dagster sensor, a Prefect flow) does this:

1. list the platform's active jobs (one job list) and keep those of one installation;
2. ask the orchestrator's :class:`OwnerLookup` for their owners' states, in one batch;
3. cancel each job whose owner has ended, or no longer exists, for longer than a grace
   period.

It is at-least-once and idempotent (a cancel is a no-op on a finished job), and it fails
closed: a job whose owner is alive, of another installation, or whose state cannot be read
(an API error, a timeout, an owner missing from the answer) is left alone, and said so. A
job that already ended is never touched. Where the orchestrator tells when an owner ended,
the grace counts from then; where it does not (Airflow's task states carry no end time),
it counts from the first sweep that saw the owner ended (:attr:`SweepReport.memory`,
handed to the next sweep), so a Clear moments after a "mark failed" keeps its job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from jobrelay._owners import Owner
from jobrelay.client import AsyncClient
from jobrelay.errors import JobRelayError
from jobrelay.integration.grace import check_grace
from jobrelay.models import JobRef, JobStatus

__all__ = [
    "DEFAULT_GRACE_S",
    "OwnerLookup",
    "OwnerReport",
    "OwnerState",
    "SweepDecision",
    "SweepReport",
    "decide",
    "sweep",
]

log = logging.getLogger("jobrelay.sweep")

DEFAULT_GRACE_S = 60.0
DEFAULT_SEARCH = 5000  # the platform's most recent jobs the sweep looks at
CANCELS_AT_ONCE = 20
LOOKUP_TIMEOUT_S = 60.0


class OwnerState(StrEnum):
    """What the orchestrator says of a job's owner."""

    ALIVE = "alive"  # running, queued, deferred, up for retry, cleared ...: it owns the job
    ENDED = "ended"  # it finished (success, failure, crash, cancel) and will not continue
    GONE = "gone"  # the orchestrator no longer knows it (its run was deleted)
    UNKNOWN = "unknown"  # could not be read: the job is left alone


@dataclass(frozen=True)
class OwnerReport:
    """One owner's state; ``ended_at`` (aware) when the orchestrator tells when it ended,
    ``detail`` the orchestrator's own word for the state (``failed``, ``CRASHED`` ...)."""

    state: OwnerState
    ended_at: datetime | None = None
    detail: str = ""


@runtime_checkable
class OwnerLookup(Protocol):
    """An orchestrator's answer to "are these owners alive?", one per orchestrator.

    ``orchestrator`` and ``installation`` say which owners it can answer for: the sweep
    asks only about those. ``states`` answers for all of them in one batch; an owner left
    out of the answer counts as unknown, and an exception means every owner is unknown.
    """

    orchestrator: str
    installation: str

    async def states(self, owners: Sequence[Owner]) -> Mapping[Owner, OwnerReport]: ...


@dataclass(frozen=True)
class SweepDecision:
    """What the sweep does with one active job of the installation, and why."""

    job: JobStatus
    owner: Owner
    report: OwnerReport
    cancel: bool
    reason: str
    ended_for_s: float | None = None


@dataclass
class SweepReport:
    """One sweep: every decision, the jobs cancelled (or, in a dry run, to cancel), cancels
    that failed, and ``memory`` (owner text -> when a sweep first saw it ended, ISO time)
    for the next sweep."""

    decisions: list[SweepDecision] = field(default_factory=list)
    cancelled: list[JobRef] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    lookup_error: str | None = None
    memory: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def to_cancel(self) -> list[SweepDecision]:
        return [d for d in self.decisions if d.cancel]

    def summary(self) -> dict[str, Any]:
        """A small JSON value (an XCom, a Prefect result, sensor metadata)."""
        return {
            "active_jobs_of_installation": len(self.decisions),
            "cancelled" if not self.dry_run else "would_cancel": [
                {
                    "job": d.job.ref.id,
                    "owner": str(d.owner),
                    "owner_state": d.report.detail or d.report.state.value,
                    "ended_for_s": None if d.ended_for_s is None else round(d.ended_for_s, 1),
                }
                for d in self.to_cancel
            ],
            "kept": len(self.decisions) - len(self.to_cancel),
            "cancel_failed": dict(self.failed),
            "lookup_error": self.lookup_error,
        }


def decide(
    job: JobStatus,
    owner: Owner,
    report: OwnerReport,
    *,
    now: datetime,
    grace_s: float,
    first_seen_ended: datetime | None = None,
) -> SweepDecision:
    """Whether to cancel ``job``: only an active job whose owner ended (or is gone) longer
    than ``grace_s`` ago. The end is the orchestrator's ``ended_at``, else the time a sweep
    first saw the owner ended (``first_seen_ended``); an end in the future (clock skew) is
    "not yet"."""

    def keep(reason: str, ended_for: float | None = None) -> SweepDecision:
        return SweepDecision(job, owner, report, False, reason, ended_for)

    if not job.state.is_active:
        return keep(f"the job already ended ({job.state.value})")
    if report.state is OwnerState.ALIVE:
        return keep(f"its owner is alive ({report.detail or 'alive'})")
    if report.state is OwnerState.UNKNOWN:
        return keep(f"its owner's state could not be read ({report.detail or 'unknown'})")
    since = report.ended_at or first_seen_ended
    if since is None:
        return keep("its owner ended; first seen now, the grace period starts")
    ended_for = (now - since).total_seconds()
    word = "ended" if report.state is OwnerState.ENDED else "is gone"
    if ended_for < grace_s or ended_for < 0:
        return keep(f"its owner {word} {max(ended_for, 0):.0f} s ago, within the grace period")
    return SweepDecision(
        job,
        owner,
        report,
        True,
        f"its owner {word} ({report.detail or report.state.value}) {ended_for:.0f} s ago",
        ended_for,
    )


async def sweep(
    client: AsyncClient,
    lookup: OwnerLookup,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    dry_run: bool = False,
    memory: Mapping[str, str] | None = None,
    search: int = DEFAULT_SEARCH,
    lookup_timeout_s: float = LOOKUP_TIMEOUT_S,
    now: datetime | None = None,
    logger: logging.Logger | Any = log,
) -> SweepReport:
    """Cancel the active jobs of ``lookup``'s installation whose owner has ended (see the
    module docstring). ``memory`` is the previous sweep's :attr:`SweepReport.memory`;
    ``dry_run`` decides and logs but cancels nothing; a lookup that takes longer than
    ``lookup_timeout_s`` counts as unreadable. Errors of the lookup or of a cancel
    never raise: they are in the report (and the log), and the jobs stay as they are.
    """
    check_grace(grace_s)
    report = SweepReport(dry_run=dry_run)
    jobs = await client.list_jobs(limit=search)
    mine: list[tuple[JobStatus, Owner]] = []
    for job in jobs:
        owner = Owner.read(job.owner)
        if (
            owner is not None
            and job.state.is_active
            and owner.orchestrator == lookup.orchestrator
            and owner.installation == lookup.installation
        ):
            mine.append((job, owner))
    if not mine:
        return report
    owners = sorted({owner for _, owner in mine})
    states = await _owner_states(lookup, owners, lookup_timeout_s, report, logger)
    now = now or datetime.now(UTC)
    remembered = _read_memory(memory or {})
    for job, owner in mine:
        owner_report = states.get(owner, OwnerReport(OwnerState.UNKNOWN, detail="not answered"))
        first_seen = remembered.get(str(owner))
        if owner_report.state in (OwnerState.ENDED, OwnerState.GONE):
            first_seen = first_seen or now
            report.memory[str(owner)] = first_seen.isoformat()
        decision = decide(
            job,
            owner,
            owner_report,
            now=now,
            grace_s=grace_s,
            first_seen_ended=first_seen if owner_report.ended_at is None else None,
        )
        report.decisions.append(decision)
        if not decision.cancel:
            logger.debug("Keeping job %s (owner %s): %s", job.ref.id, owner, decision.reason)
    await _cancel_all(client, report, logger)
    return report


async def _owner_states(
    lookup: OwnerLookup,
    owners: list[Owner],
    timeout_s: float,
    report: SweepReport,
    logger: logging.Logger | Any,
) -> Mapping[Owner, OwnerReport]:
    try:
        async with asyncio.timeout(timeout_s):
            return dict(await lookup.states(owners))
    except Exception as exc:  # any failure of the orchestrator's API: fail closed
        report.lookup_error = f"{type(exc).__name__}: {exc}"[:500]
        logger.warning(
            "Could not read the states of %d owners (%s); their jobs are left running",
            len(owners),
            report.lookup_error,
        )
        return {}


async def _cancel_all(
    client: AsyncClient, report: SweepReport, logger: logging.Logger | Any
) -> None:
    limit = asyncio.Semaphore(CANCELS_AT_ONCE)

    async def cancel(decision: SweepDecision) -> None:
        ref, owner, reason = decision.job.ref, decision.owner, decision.reason
        if report.dry_run:
            logger.info("Would cancel job %s (owner %s): %s", ref.id, owner, reason)
            report.cancelled.append(ref)
            return
        logger.info("Cancelling job %s (owner %s): %s", ref.id, owner, reason)
        try:
            async with limit:
                await client.cancel(ref)
        except JobRelayError as exc:
            report.failed[ref.id] = str(exc)[:500]
            logger.warning("Could not cancel job %s: %s; the next sweep tries again", ref.id, exc)
        else:
            report.cancelled.append(ref)

    await asyncio.gather(*(cancel(d) for d in report.to_cancel))


def _read_memory(memory: Mapping[str, str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for owner, text in memory.items():
        try:
            when = datetime.fromisoformat(text)
        except (TypeError, ValueError):
            continue  # a damaged entry only restarts that owner's grace period
        found[owner] = when if when.tzinfo else when.replace(tzinfo=UTC)
    return found
