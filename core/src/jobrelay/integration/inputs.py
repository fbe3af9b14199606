"""Values an orchestrator hands over -> the core's job inputs and job references.

Orchestrators pass values as they are (an ``ArtifactRef``), as JSON (an XCom, a Prefect
result, Dagster metadata) or as text a template rendered (``{{ ti.xcom_pull(...) }}``
renders a dict's repr). All of them are accepted here, once.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from jobrelay.errors import ConfigError
from jobrelay.models import ArtifactRef, JobRef, input_name_problem

__all__ = ["job_ref_from", "normalize_inputs", "parse_rendered"]


def parse_rendered(value: str) -> Any:
    """A rendered value: JSON (``| tojson``) or a Python literal (a dict's repr).

    Text that is neither an object nor parses is returned as it is (an alias string).
    """
    text = value.strip()
    if not text.startswith("{"):
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def normalize_inputs(inputs: Any) -> dict[str, ArtifactRef | str]:
    """Inputs as the core takes them, from what an orchestrator can hand over.

    ``inputs`` maps the name a job reads (``runtime.input_path("model")``) to an
    ``ArtifactRef``, its JSON dict (an upstream job's outputs entry), the text a template
    rendered from one, or a reference string (``"model:latest"``, an artifact URI).
    ``inputs`` itself may be such a rendered dict, or None for no inputs.

    Raises ``ConfigError`` naming ``inputs`` or ``inputs.NAME`` for anything else.

    >>> normalize_inputs({"data": "train-data:latest"})
    {'data': 'train-data:latest'}
    """
    if isinstance(inputs, str):
        inputs = parse_rendered(inputs)
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise ConfigError(
            f"must map input names to artifact refs, got {type(inputs).__name__}", field="inputs"
        )
    result: dict[str, ArtifactRef | str] = {}
    for name, raw in inputs.items():
        if not isinstance(name, str):
            raise ConfigError(
                f"input names must be strings, got {type(name).__name__} {name!r:.40}",
                field="inputs",
            )
        problem = input_name_problem(name)
        if problem:  # refused here as JobSpec would refuse it
            raise ConfigError(problem, field=f"inputs.{name}")
        result[name] = _input(name, raw)
    return result


def _input(name: str, raw: Any) -> ArtifactRef | str:
    value = parse_rendered(raw) if isinstance(raw, str) else raw
    if isinstance(value, ArtifactRef):
        return value
    if isinstance(value, str):
        if not value.strip() or "\0" in value:
            raise ConfigError(
                "must be an artifact reference such as 'model:latest', got an empty or "
                "NUL-bearing string",
                field=f"inputs.{name}",
            )
        return value
    if isinstance(value, Mapping):
        try:
            return ArtifactRef.model_validate(dict(value))
        except ValueError as exc:
            missing = sorted({"uri", "name", "version", "digest", "size"} - {str(k) for k in value})
            hint = f" (missing {', '.join(missing)})" if missing else ""
            raise ConfigError(
                f"is not an artifact ref{hint}: expected the dict an upstream job's outputs "
                f"entry holds ({exc.__class__.__name__})",
                field=f"inputs.{name}",
            ) from None
    raise ConfigError(
        "must be an artifact ref (or its dict) or a reference string such as 'model:latest', "
        f"got {type(value).__name__}",
        field=f"inputs.{name}",
    )


def job_ref_from(value: Any) -> JobRef:
    """A ``JobRef`` from a ``JobRef``, its dict or JSON, or a run record (``{"ref": ...}``).

    Raises ``ConfigError(field="job")`` for anything else.
    """
    if isinstance(value, JobRef):
        return value
    if isinstance(value, str):
        value = parse_rendered(value)
    if isinstance(value, Mapping) and isinstance(value.get("ref"), Mapping):
        value = value["ref"]
    if not isinstance(value, Mapping) or "id" not in value or "platform" not in value:
        raise ConfigError(
            "must be a job reference ({'platform': ..., 'id': ...}) or a run record, "
            f"got {type(value).__name__}",
            field="job",
        )
    try:
        return JobRef.model_validate(dict(value))
    except ValueError as exc:
        raise ConfigError(
            f"is not a job reference ({exc.__class__.__name__})", field="job"
        ) from None
