"""jobrelay: submit, queue, wait on, follow, cancel and hand artifacts between jobs.

Names load on first use (PEP 562), so ``from jobrelay import runtime`` inside a job stays
as cheap as the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobrelay import errors as _errors
from jobrelay._lazy import lazy_names

if TYPE_CHECKING:
    from jobrelay.client import AsyncClient
    from jobrelay.errors import (
        APIError,
        ArtifactError,
        ArtifactNotFound,
        AuthError,
        ConfigError,
        ConflictError,
        IntegrityError,
        JobCancelled,
        JobError,
        JobFailed,
        JobRelayError,
        JobTimeout,
        NotFoundError,
        PlatformError,
        RateLimitedError,
        ServerError,
        TransportError,
    )
    from jobrelay.models import (
        ArtifactRef,
        JobRef,
        JobResult,
        JobSpec,
        JobState,
        JobStatus,
        LogLine,
        LogPage,
        QueueInfo,
        QueueMode,
    )
    from jobrelay.sync_client import Client
    from jobrelay.waiting import JobUpdate, PollPolicy, WaitLimits

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactRef",
    "AsyncClient",
    "AuthError",
    "Client",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobRef",
    "JobRelayError",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobStatus",
    "JobTimeout",
    "JobUpdate",
    "LogLine",
    "LogPage",
    "NotFoundError",
    "PlatformError",
    "PollPolicy",
    "QueueInfo",
    "QueueMode",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "WaitLimits",
    "__version__",
]


# Each name's home module: the clients and the wait types by name; the errors as
# jobrelay.errors declares them (a module of the standard library alone, so reading its
# __all__ costs no more than the import of this package did); every other declared name is
# a model. models.__all__ is not read here: reading it imports pydantic, which
# ``import jobrelay`` must not (a job's ``from jobrelay import runtime``, a DAG's parse).
_HOMES = {
    "AsyncClient": "jobrelay.client",
    "Client": "jobrelay.sync_client",
    **dict.fromkeys(("JobUpdate", "PollPolicy", "WaitLimits"), "jobrelay.waiting"),
    **dict.fromkeys(set(__all__) & set(_errors.__all__), "jobrelay.errors"),
}
_HOMES.update(dict.fromkeys(set(__all__) - set(_HOMES) - {"__version__"}, "jobrelay.models"))


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
