"""Airflow values -> the core's ``JobSpec``: the idempotency key, tags and inputs.

Plain functions; the operator calls them with its rendered template fields.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobrelay import ArtifactRef, JobResult, JobSpec

__all__ = [
    "build_spec",
    "idempotency_key",
    "job_ref_from",
    "normalize_inputs",
    "result_from_event",
    "result_to_xcom",
]

_MAX_KEY = 200  # JobSpec.idempotency_key's limit


def idempotency_key(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """The key of one task instance's job: the same for every try of it.

    >>> idempotency_key("etl", "train", "manual__2026-01-01", -1)
    'airflow:etl:train:manual__2026-01-01:-1'
    """
    parts = (dag_id, task_id, run_id, str(map_index))
    key = ":".join(("airflow", *parts))
    if len(key) <= _MAX_KEY:
        return key
    return "airflow:sha256:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _parse_text(value: str) -> Any:
    """A rendered template: JSON (``| tojson``) or a Python literal (a dict's repr)."""
    text = value.strip()
    if not text.startswith("{"):
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return value


def normalize_inputs(inputs: Any) -> dict[str, ArtifactRef | str]:
    """Inputs as the core takes them, from what a DAG can hand over.

    ``inputs`` maps the name a job reads (``runtime.input_path("model")``) to an
    ``ArtifactRef`` dict (an upstream task's ``outputs`` XCom, pulled by an ``XComArg`` or a
    template), the text a template rendered from one, or a reference string
    (``"model:latest"``, an artifact URI). ``inputs`` itself may be such a rendered dict.
    Raises ``ConfigError`` naming ``inputs.NAME`` for anything else.
    """
    from jobrelay import ArtifactRef, ConfigError

    if isinstance(inputs, str):
        inputs = _parse_text(inputs)
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise ConfigError(
            f"must map input names to artifact refs, got {type(inputs).__name__}", field="inputs"
        )
    result: dict[str, ArtifactRef | str] = {}
    for name, raw in inputs.items():
        value = _parse_text(raw) if isinstance(raw, str) else raw
        if isinstance(value, ArtifactRef | str):
            result[str(name)] = value
        elif isinstance(value, Mapping):
            try:
                result[str(name)] = ArtifactRef.model_validate(dict(value))
            except ValueError as exc:
                raise ConfigError(
                    f"is not an artifact ref ({exc.__class__.__name__}): expected the dict an "
                    "upstream task's outputs XCom holds",
                    field=f"inputs.{name}",
                ) from None
        else:
            raise ConfigError(
                f"must be an artifact ref dict or a reference string such as 'model:latest', "
                f"got {type(value).__name__}",
                field=f"inputs.{name}",
            )
    return result


def build_spec(fields: Mapping[str, Any], *, key: str, airflow_tags: Mapping[str, str]) -> JobSpec:
    """The ``JobSpec`` for the operator's rendered ``fields`` (``ConfigError`` if invalid)."""
    from jobrelay import JobSpec

    values = {k: v for k, v in fields.items() if v is not None}
    values["inputs"] = normalize_inputs(fields.get("inputs"))
    user_tags = {str(k): str(v) for k, v in (fields.get("tags") or {}).items()}
    values["tags"] = {**airflow_tags, **user_tags}
    values["env"] = {str(k): str(v) for k, v in (fields.get("env") or {}).items()}
    return JobSpec(**values, idempotency_key=key)


def result_to_xcom(result: JobResult) -> dict[str, Any]:
    """What the operator returns and pushes: plain JSON, no secret (refs carry none)."""
    status = result.status
    return {
        "ref": result.ref.model_dump(mode="json"),
        "job_id": result.ref.id,
        "platform": result.ref.platform,
        "url": status.url or result.ref.url,
        "state": status.state.value,
        "platform_state": status.platform_state,
        "exit_code": status.exit_code,
        "reattached": result.ref.reattached,
        "outputs": {name: ref.model_dump(mode="json") for name, ref in result.outputs.items()},
    }


def result_from_event(event: Mapping[str, Any]) -> JobResult:
    """The result a ``JobTrigger`` event reports; raises for anything but success."""
    from jobrelay import JobRef, JobResult, JobStatus

    from airflow_jobrelay.exceptions import JobRelayJobFailed, JobRelayJobTimeout

    ref = JobRef.model_validate(event["ref"])
    status = event.get("job")
    message = event.get("message") or f"job {ref.id} did not succeed"
    if event.get("status") == "timeout":
        raise JobRelayJobTimeout(message, status, phase=event.get("phase") or "total")
    if event.get("status") != "success" or status is None:
        raise JobRelayJobFailed(message, status)
    final = JobStatus.model_validate(status)
    return JobResult(ref=ref, status=final, outputs=final.outputs)


def job_ref_from(value: Any) -> dict[str, Any]:
    """A job reference dict from a ``JobRef`` dict, a ``SubmitJobOperator`` result or JSON."""
    from jobrelay import ConfigError, JobRef

    if isinstance(value, str):
        value = _parse_text(value)
    if isinstance(value, Mapping) and isinstance(value.get("ref"), Mapping):
        value = value["ref"]
    if not isinstance(value, Mapping) or "id" not in value or "platform" not in value:
        raise ConfigError(
            "must be a job reference ({'platform': ..., 'id': ...}) or a SubmitJobOperator "
            f"result, got {value!r:.80}",
            field="job",
        )
    return JobRef.model_validate(dict(value)).model_dump(mode="json")
