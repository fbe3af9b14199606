"""Airflow values -> the core's ``JobSpec`` and back: the key, tags, XCom and events.

Plain functions over :mod:`jobrelay.integration`; the operator calls them with its
rendered template fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobrelay import JobResult, JobSpec

__all__ = ["build_spec", "idempotency_key", "job_ref_from", "result_from_event", "result_to_xcom"]


def idempotency_key(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """The key of one task instance's job: the same for every try of it.

    >>> idempotency_key("etl", "train", "manual__2026-01-01", -1)
    'airflow:etl:train:manual__2026-01-01:-1'
    """
    from jobrelay.integration import idempotency_key as key_of

    return key_of("airflow", dag_id, task_id, run_id, map_index)


def build_spec(fields: Mapping[str, Any], *, key: str) -> JobSpec:
    """The ``JobSpec`` for the operator's rendered ``fields`` (``ConfigError`` if invalid)."""
    from jobrelay import JobSpec
    from jobrelay.integration import normalize_inputs

    values = {k: v for k, v in fields.items() if v is not None}
    values["inputs"] = normalize_inputs(fields.get("inputs"))
    values["tags"] = _texts(fields.get("tags"), "tags")
    values["env"] = _texts(fields.get("env"), "env")
    return JobSpec(**values, idempotency_key=key)


def templated(value: Any) -> bool:
    """Whether ``value`` holds a Jinja template or an object Airflow resolves at run time
    (an ``XComArg``): its check waits until it is rendered."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(templated(k) or templated(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(templated(item) for item in value)
    return not isinstance(value, int | float | bool | type(None))


def _texts(value: Any, field: str) -> dict[str, str]:
    """A mapping of names to text; a number becomes its text, anything else (None, a
    list, a bool) is refused: ``{'A': None}`` must not reach the job as ``"None"``."""
    from jobrelay import ConfigError

    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"must map names to values (a dict), got {type(value).__name__}", field=field
        )
    texts: dict[str, str] = {}
    for name, text in value.items():
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise ConfigError(
                f"the value of {str(name)[:40]!r} must be text or a number, got {text!r:.40}",
                field=field,
            )
        texts[str(name)] = str(text)
    return texts


def result_to_xcom(result: JobResult) -> dict[str, Any]:
    """What the operator returns and pushes: the core's run record (plain JSON, no secret)."""
    from jobrelay.integration import run_record

    return run_record(result)


def result_from_event(event: Mapping[str, Any]) -> JobResult:
    """The result a ``JobTrigger`` event reports; raises for anything but success.

    A job that failed, was cancelled or timed out raises ``JobRelayJobFailed`` (or
    ``JobRelayJobTimeout``); a wait that could not tell (the platform refused the
    credentials, was unreachable ...) raises the core's error of that type with the
    platform's message (``AuthError``, ``TransportError`` ...): not a failed job.
    """
    from jobrelay import JobError, JobTimeout
    from jobrelay.integration import TerminalEvent

    from airflow_jobrelay.exceptions import (
        JobRelayConnectionError,
        JobRelayJobFailed,
        JobRelayJobTimeout,
    )

    parsed = TerminalEvent.from_json(event)
    if parsed.outcome == "error" and parsed.error_type == JobRelayConnectionError.__name__:
        raise JobRelayConnectionError(parsed.message, conn_id=None, field=parsed.field)
    try:
        return parsed.result()
    except JobTimeout as exc:
        status = exc.status.model_dump(mode="json")
        raise JobRelayJobTimeout(str(exc), status, phase=exc.phase) from exc
    except JobError as exc:
        raise JobRelayJobFailed(str(exc), exc.status.model_dump(mode="json")) from exc


def job_ref_from(value: Any) -> dict[str, Any]:
    """A job reference dict from a ``JobRef`` dict, a ``SubmitJobOperator`` result or JSON."""
    from jobrelay.integration import job_ref_from as ref_of

    return ref_of(value).model_dump(mode="json")
