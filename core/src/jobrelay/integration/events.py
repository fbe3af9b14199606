"""How a serialized wait ends, as one typed value (an Airflow trigger event, a stored
result), with the platform's errors kept as errors rather than read as a failed job.

>>> event = await wait_event(client, ref, run_timeout=3600)     # doctest: +SKIP
>>> payload = event.to_json()          # travels through the orchestrator
>>> TerminalEvent.from_json(payload).result()   # JobResult, or raises what happened
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from jobrelay import errors
from jobrelay.client import AsyncClient
from jobrelay.errors import ConfigError, JobCancelled, JobFailed, JobRelayError, JobTimeout
from jobrelay.models import JobRef, JobResult, JobState, JobStatus
from jobrelay.waiting import UpdateCallback

__all__ = ["Outcome", "TerminalEvent", "wait_event"]

Outcome = Literal["succeeded", "failed", "cancelled", "timeout", "error"]


class TerminalEvent(BaseModel):
    """The end of a wait: what happened to the job, or why the wait could not tell.

    ``outcome`` is ``succeeded`` (or the job reached the state waited for), ``failed``,
    ``cancelled``, ``timeout`` (``phase`` says which limit), or ``error``: the wait itself
    failed, and ``error_type`` (a jobrelay error class name, e.g. ``AuthError``),
    ``retryable`` and ``message`` (the platform's words) say how. ``cursor`` is the log
    cursor the wait's log following reached, when it followed.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    outcome: Outcome
    ref: JobRef
    status: JobStatus | None = None
    message: str
    phase: Literal["queue", "run", "total"] | None = None
    error_type: str | None = None
    retryable: bool = False
    field: str | None = None
    cursor: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> TerminalEvent:
        """Read an event back; a payload that is not one is a ``ConfigError``."""
        try:
            return cls.model_validate(dict(payload))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"not a jobrelay wait event: {first['msg']}", field=where) from None

    def result(self) -> JobResult:
        """The job's result for ``succeeded``; otherwise raises the error that ended the
        wait: ``JobFailed``, ``JobCancelled``, ``JobTimeout`` or, for ``error``, the same
        jobrelay error class (``AuthError``, ``NotFoundError`` ...) with its message."""
        if self.outcome == "succeeded" and self.status is not None:
            return JobResult(ref=self.ref, status=self.status, outputs=self.status.outputs)
        if self.outcome == "error" or self.status is None:
            raise self._error()
        if self.outcome == "timeout":
            raise JobTimeout(self.message, self.status, phase=self.phase or "total")
        if self.outcome == "cancelled":
            raise JobCancelled(self.message, self.status)
        raise JobFailed(self.message, self.status)

    def _error(self) -> JobRelayError:
        kind = getattr(errors, self.error_type or "", None)
        if kind is errors.ConfigError:
            return ConfigError(self.message, field=self.field)
        if isinstance(kind, type) and issubclass(kind, errors.APIError):
            return kind(self.message)
        if (
            isinstance(kind, type)
            and issubclass(kind, JobRelayError)
            and not issubclass(kind, errors.JobError)
        ):
            return kind(self.message)
        return JobRelayError(f"{self.error_type or 'error'}: {self.message}")


async def wait_event(
    client: AsyncClient,
    ref: JobRef,
    *,
    until: JobState = JobState.SUCCEEDED,
    cursor: str | None = None,
    on_update: UpdateCallback | None = None,
    follow_logs: bool = False,
    **limits: Any,
) -> TerminalEvent:
    """Wait for ``ref`` and say how it ended, never raising for the job or the platform.

    ``limits`` are :meth:`AsyncClient.wait`'s (``queue_timeout``, ``run_timeout``,
    ``timeout``, ``cancel_on_timeout``, ``since``). A cancellation of the caller (a
    triggerer restart) propagates: the job is left as it is. ``cursor`` is where log
    following starts; the event carries where it stopped.
    """
    reached = [cursor]

    async def track(update: Any) -> None:
        if update.cursor is not None:
            reached[0] = update.cursor
        if on_update is not None:
            outcome = on_update(update)
            if asyncio.iscoroutine(outcome):
                await outcome

    try:
        result = await client.wait(
            ref,
            until=until,
            on_update=track if (on_update is not None or follow_logs) else None,
            follow_logs=follow_logs,
            log_cursor=cursor,
            **limits,
        )
    except JobTimeout as exc:
        return _event("timeout", ref, exc.status, str(exc), reached[0], phase=exc.phase)
    except JobCancelled as exc:
        return _event("cancelled", ref, exc.status, str(exc), reached[0])
    except JobFailed as exc:
        return _event("failed", ref, exc.status, str(exc), reached[0])
    except JobRelayError as exc:
        return TerminalEvent(
            outcome="error",
            ref=ref,
            message=str(exc),
            error_type=type(exc).__name__,
            retryable=errors.is_transient(exc),
            field=getattr(exc, "field", None),
            cursor=reached[0],
        )
    status = result.status
    message = f"job {ref.id} is {status.state.value.lower()}"
    return _event("succeeded", ref, status, message, reached[0])


def _event(
    outcome: Outcome,
    ref: JobRef,
    status: JobStatus,
    message: str,
    cursor: str | None,
    *,
    phase: Literal["queue", "run", "total"] | None = None,
) -> TerminalEvent:
    return TerminalEvent(
        outcome=outcome, ref=ref, status=status, message=message, phase=phase, cursor=cursor
    )
