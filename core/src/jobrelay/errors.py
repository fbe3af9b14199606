"""The jobrelay error tree.

Every error jobrelay raises derives from :class:`JobRelayError`::

    JobRelayError
    ├── ConfigError            bad settings or JobSpec, raised before any network call
    ├── PlatformError          the platform could not be reached or refused
    │   ├── TransportError     connect/read timeouts, resets
    │   └── APIError           status_code, request_id, body
    │       ├── AuthError, NotFoundError, ConflictError, RateLimitedError, ServerError
    ├── JobError               the job itself did not succeed (carries its JobStatus)
    │   ├── JobFailed, JobCancelled, JobTimeout(phase)
    └── ArtifactError          ArtifactNotFound, IntegrityError

Messages say what happened, to what, and what to do. Secrets never appear in them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from jobrelay.models import JobStatus

__all__ = [
    "APIError",
    "ArtifactError",
    "ArtifactNotFound",
    "AuthError",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobRelayError",
    "JobTimeout",
    "NotFoundError",
    "PlatformError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "is_transient",
]


class JobRelayError(Exception):
    """Base of every error jobrelay raises."""


class ConfigError(JobRelayError, ValueError):
    """Bad settings or job spec; raised before anything is sent or written.

    ``field`` names the offending setting (``"entrypoint"``, ``"platform"``, ...).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class PlatformError(JobRelayError):
    """The platform could not be reached, or refused the request."""


class TransportError(PlatformError):
    """A connection error, reset or timeout talking to the platform."""


class APIError(PlatformError):
    """The platform answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.operation = operation
        super().__init__(message)


class AuthError(APIError):
    """The platform rejected the credentials (401/403)."""


class NotFoundError(APIError):
    """The job, queue or artifact does not exist on the platform (404)."""


class ConflictError(APIError):
    """The request conflicts with existing state, e.g. a duplicate job id (409)."""


class RateLimitedError(APIError):
    """Too many requests (429); ``retry_after`` seconds when the platform said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ServerError(APIError):
    """The platform failed (5xx)."""


class JobError(JobRelayError):
    """The job did not succeed. ``status`` is its last known status."""

    def __init__(self, message: str, status: JobStatus) -> None:
        self.status = status
        super().__init__(message)


class JobFailed(JobError):
    """The job ended in FAILED (exit code and last log lines in the message)."""


class JobCancelled(JobError):
    """The job was cancelled."""


class JobTimeout(JobError):
    """A wait limit ran out; ``phase`` is ``"queue"``, ``"run"`` or ``"total"``."""

    def __init__(
        self, message: str, status: JobStatus, *, phase: Literal["queue", "run", "total"]
    ) -> None:
        self.phase = phase
        super().__init__(message, status)


class ArtifactError(JobRelayError):
    """An artifact could not be stored, resolved or fetched."""


class ArtifactNotFound(ArtifactError):
    """No artifact matches the name, version or alias."""


class IntegrityError(ArtifactError):
    """Bytes read back do not match the recorded digest."""


def is_transient(exc: BaseException) -> bool:
    """Whether the same call may well succeed later: the platform was unreachable,
    rate-limited or failing (5xx), after the HTTP layer's own retries."""
    return isinstance(exc, TransportError | RateLimitedError | ServerError)
