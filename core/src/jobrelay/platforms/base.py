"""The contract every platform implements (DESIGN §3).

A platform module is payload builders and parsers around a few awaits. Waiting, timeouts,
reattach policy, log following, artifact staging and retries live once in the core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from jobrelay.models import JobRef, JobSpec, JobStatus, LogPage, QueueInfo, QueueMode
from jobrelay.waiting import PollPolicy


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do, so the core and the CLI adapt to it.

    ``native_artifacts`` means the platform hands ``JobSpec.inputs`` to the job and reports
    outputs itself (W&B: the launch spec and the run's logged artifacts); otherwise the
    client does it through ``jobrelay.runtime``'s environment variables.
    ``poll`` is the polling policy that suits the platform: a local SQLite read is cheap,
    a hosted API is not.
    """

    queues: bool = False
    priority: bool = False
    batch_status: bool = False
    logs_follow: bool = True
    cancel_queued: bool = True
    native_artifacts: bool = False
    poll: PollPolicy = field(default_factory=PollPolicy)


@runtime_checkable
class Platform(Protocol):
    """A job platform. ``statuses`` answers for many jobs in one call where the API can."""

    name: str
    url: str
    capabilities: Capabilities

    async def submit(self, spec: JobSpec) -> JobRef:
        """Start the job; a duplicate idempotency key raises ``ConflictError``."""
        ...

    async def find(self, idempotency_key: str) -> JobRef | None:
        """The job submitted under exactly this key, if any."""
        ...

    async def status(self, ref: JobRef) -> JobStatus: ...

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """Statuses keyed by ``JobRef.id``; missing ids are left out."""
        ...

    async def logs(self, ref: JobRef, cursor: str | None) -> LogPage:
        """Lines after ``cursor`` (from the start when None) and the next cursor."""
        ...

    async def cancel(self, ref: JobRef) -> None:
        """Idempotent, best effort; a no-op on a finished job."""
        ...

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The most recently submitted jobs, newest first."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class QueueAdmin(Protocol):
    """Platforms with named queues the user can create."""

    async def create_queue(
        self,
        name: str,
        *,
        max_concurrency: int = 1,
        mode: QueueMode = QueueMode.FIFO,
        exist_ok: bool = True,
    ) -> QueueInfo: ...

    async def list_queues(self) -> Sequence[QueueInfo]: ...
