"""The project's run listing as ``project.runs(filters:, order:)`` answers it: MongoDB-style
filters (as the SDK sends them) over the world's run records.
"""

from __future__ import annotations

import json
from typing import Any

from jobrelay_emulators.wandb.state import EmulatorError, ProjectRecord, RunRecord, World

__all__ = ["project_runs"]

# Filter keys of ``project.runs(filters:)`` (MongoDB style, as the SDK sends them) -> the
# record attribute they compare.
_FILTER_FIELDS = {
    "name": "name",
    "state": "state",
    "jobType": "job_type",
    "displayName": "display_name",
    "tags": "tags",
}


def _matches(run: RunRecord, query: dict[str, Any]) -> bool:
    for key, want in query.items():
        if key == "$and":
            if not all(_matches(run, q) for q in want):
                return False
            continue
        if key == "$or":
            if not any(_matches(run, q) for q in want):
                return False
            continue
        if key.startswith("config."):
            value: Any = run.config.get(key.removeprefix("config.").removesuffix(".value"))
        elif key.startswith("summary_metrics."):
            value = run.summary.get(key.removeprefix("summary_metrics."))
        elif key in _FILTER_FIELDS:
            value = getattr(run, _FILTER_FIELDS[key])
        else:
            raise EmulatorError(f"the W&B emulator does not filter runs by {key!r}")
        if not _compare(value, want, key):
            return False
    return True


def _compare(value: Any, want: Any, key: str) -> bool:
    if not isinstance(want, dict):
        return bool(want in value) if isinstance(value, list) else bool(value == want)
    for op, operand in want.items():
        if op == "$in":
            ok = bool(set(value) & set(operand)) if isinstance(value, list) else value in operand
        elif op == "$ne":
            ok = value != operand
        elif op == "$eq":
            ok = value == operand
        else:
            raise EmulatorError(f"the W&B emulator does not support {op!r} in the {key!r} filter")
        if not ok:
            return False
    return True


def project_runs(
    world: World, project: ProjectRecord, filters: str | None, order: str | None
) -> list[RunRecord]:
    """The project's runs that match ``filters``, in ``order`` (``+created_at`` or ``-...``)."""
    try:
        query = json.loads(filters or "{}")
    except ValueError:
        raise EmulatorError("filters is not JSON") from None
    with world.lock:
        runs = [
            r
            for r in world.runs.values()
            if (r.entity, r.project) == (project.entity, project.name)
        ]
        chosen = [r for r in runs if _matches(r, query or {})]
    chosen.sort(key=lambda r: (r.created_at, r.name), reverse=(order or "-").startswith("-"))
    return chosen
