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
    """What a platform can do. The core reads every flag; nothing is silently dropped.

    What a ``JobSpec`` may ask for (checked by :func:`jobrelay.platforms._spec_check.check_spec`
    before anything is sent; a field the platform cannot honour is a ``ConfigError``):
    ``queues`` (``queue``), ``priority`` (a non-zero ``priority``), ``env``,
    ``working_dir``, ``owners`` (``owner``: kept with the job and reported in its status),
    ``timeout`` (``timeout_s``, a limit the platform enforces per attempt),
    ``retries`` (``max_retries``), ``resources``, ``tags``, and ``config_keys`` (the
    ``config`` keys the platform understands). ``hints`` says what to do instead, per field.

    How the core works with it: ``batch_status`` lets one ``statuses()`` call answer for
    every waiter (otherwise the status hub asks per job); ``cancel_queued`` means a cancel
    takes a queued job off its queue before it starts (otherwise a wait's queue timeout
    does not claim the job was cancelled, only that a stop was asked for);
    ``native_artifacts`` means the platform hands ``JobSpec.inputs`` to the job and reports
    outputs itself (W&B); ``shared_filesystem`` means the jobs see the client's files (the
    local platform), so inputs and outputs are handed over as local paths; ``poll`` is the
    polling policy that suits the platform: a local SQLite read is cheap, a hosted API is not.
    """

    queues: bool = False
    priority: bool = False
    env: bool = True
    working_dir: bool = True
    timeout: bool = False
    retries: bool = False
    resources: bool = False
    tags: bool = False
    owners: bool = False
    config_keys: frozenset[str] = frozenset()
    hints: Mapping[str, str] = field(default_factory=dict)
    batch_status: bool = False
    cancel_queued: bool = True
    native_artifacts: bool = False
    shared_filesystem: bool = False
    poll: PollPolicy = field(default_factory=PollPolicy)


@runtime_checkable
class Platform(Protocol):
    """A job platform. ``statuses`` answers for many jobs in one call where the API can.

    Two optional members: ``job_store`` (a store URL the platform's jobs can reach, for jobs
    that share no filesystem with the client: the ``artifacts`` setting) and
    ``check_spec(spec)`` (refuse, with a ``ConfigError``, what only this platform knows it
    cannot take: a Ray ``runtime_env`` key, a W&B job path). Both are read before anything
    is sent. A platform whose jobs leave result files (Fused) also has ``results`` and
    ``read_result`` (:class:`~jobrelay.platforms.results.ResultFiles`): it reports them, and
    the client's handoff stores them as the job's outputs.
    """

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

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        """Lines after ``cursor`` (from the start when None) and the next cursor.

        ``terminal`` is what a status read made *before* this call said (a waiter's, through
        the status hub): the platform decides ``done`` from it and asks for no status of its
        own, so N followers add no status calls. None: the platform reads the state itself.
        """
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
