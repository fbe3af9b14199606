"""jobrelay: submit, queue, wait on, follow, cancel and hand artifacts between jobs.

Names load on first use (PEP 562), so ``from jobrelay import runtime`` inside a job stays
as cheap as the standard library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


_HOMES = {
    "AsyncClient": "jobrelay.client",
    "Client": "jobrelay.sync_client",
    **dict.fromkeys(("JobUpdate", "PollPolicy", "WaitLimits"), "jobrelay.waiting"),
    **dict.fromkeys(
        (
            "ArtifactRef",
            "JobRef",
            "JobResult",
            "JobSpec",
            "JobState",
            "JobStatus",
            "LogLine",
            "LogPage",
            "QueueInfo",
            "QueueMode",
        ),
        "jobrelay.models",
    ),
}


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "__version__":
        module = importlib.import_module(_HOMES.get(name, "jobrelay.errors"))
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jobrelay' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
