"""The errors the provider raises into Airflow; each is an ``AirflowException``.

::

    AirflowException
    ├── JobRelayConnectionError   the connection is unusable (names the field)
    ├── JobRelayConfigError       an argument is unusable (names it; also a jobrelay ConfigError)
    └── JobRelayJobFailed         the job failed or was cancelled (carries its final status)
        └── JobRelayJobTimeout    a queue/run limit ran out (``phase``)

A wait that failed for a reason other than the job (the platform refused the credentials,
was unreachable) raises the core's own error (``jobrelay.AuthError`` ...), never a
``JobRelayJobFailed``; a kill raises ``AirflowException`` saying what became of the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.sdk.exceptions import AirflowException
from jobrelay import ConfigError

__all__ = [
    "JobRelayConfigError",
    "JobRelayConnectionError",
    "JobRelayJobFailed",
    "JobRelayJobTimeout",
    "refused_as_airflow_error",
]


class JobRelayConfigError(AirflowException, ConfigError):
    """An operator or sensor argument that cannot be used; ``field`` names it. Raised as
    the DAG is parsed, or for a templated argument once rendered, before anything is sent."""


@contextmanager
def refused_as_airflow_error() -> Iterator[None]:
    """Raise the core's ``ConfigError`` as the provider's ``JobRelayConfigError``."""
    try:
        yield
    except JobRelayConfigError:
        raise
    except ConfigError as exc:
        message = str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)
        raise JobRelayConfigError(message, field=exc.field) from None


class JobRelayConnectionError(AirflowException):
    """A ``jobrelay`` connection that cannot be used; ``field`` names the bad field."""

    def __init__(self, message: str, *, conn_id: str | None, field: str | None) -> None:
        self.conn_id = conn_id
        self.field = field
        super().__init__(message)


class JobRelayJobFailed(AirflowException):
    """The remote job did not succeed.

    ``status`` is its final status as a JSON dict (``state``, ``platform_state``,
    ``exit_code``, ``message``, ``url``, ``ref`` ...), as the core's ``JobStatus`` dumps it.
    """

    def __init__(self, message: str, status: dict[str, Any] | None) -> None:
        self.status = status
        super().__init__(message)

    @property
    def state(self) -> str | None:
        return None if self.status is None else self.status.get("state")


class JobRelayJobTimeout(JobRelayJobFailed):
    """A wait limit ran out; ``phase`` is ``"queue"``, ``"run"`` or ``"total"``."""

    def __init__(self, message: str, status: dict[str, Any] | None, *, phase: str) -> None:
        self.phase = phase
        super().__init__(message, status)
