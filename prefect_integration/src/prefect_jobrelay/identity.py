"""The idempotency key of a job from the Prefect identity of the work.

Measured (reference §6): across a task retry the task run is the same; across a rerun of
the flow run (a new process) ``flow_run.id``, ``task_key`` and the position of the call
among the flow run's calls of that task (``dynamic_key``, a counter) stay the same. So a
job's key is ``prefect:<flow run id>:<task key>:<dynamic key>:<n>``, ``n`` counting the
jobs one attempt of the task submits. The flow run id stays readable at the front, so a
hook can find the flow run's jobs by :func:`flow_run_prefix`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from uuid import UUID

from jobrelay.integration import scope_prefix, scoped_key
from prefect.context import FlowRunContext, TaskRunContext

__all__ = ["NAMESPACE", "flow_run_prefix", "job_key"]

NAMESPACE = "prefect"

_counters: dict[tuple[object, ...], Iterator[int]] = {}
_lock = threading.Lock()  # .submit()ed tasks run on threads


def _next(attempt: tuple[object, ...]) -> int:
    with _lock:
        return next(_counters.setdefault(attempt, itertools.count()))


def job_key(given: str | None = None) -> str | None:
    """``given`` when the user gave a key; else the key of this call from the run context
    (None outside any flow or task run: no reattach then)."""
    if given:
        return given
    task_run_ctx = TaskRunContext.get()
    if task_run_ctx is not None:
        run = task_run_ctx.task_run
        scope = str(run.flow_run_id or run.id)
        n = _next(("task", run.id, run.run_count))
        return scoped_key(NAMESPACE, scope, run.task_key, run.dynamic_key, n)
    flow_run_ctx = FlowRunContext.get()
    if flow_run_ctx is not None and flow_run_ctx.flow_run is not None:
        flow_run = flow_run_ctx.flow_run
        n = _next(("flow", flow_run.id, flow_run.run_count))
        return scoped_key(NAMESPACE, str(flow_run.id), "flow", n)
    return None


def flow_run_prefix(flow_run_id: UUID | str) -> str:
    """What the keys of every job a flow run's tasks submitted start with."""
    return scope_prefix(NAMESPACE, str(flow_run_id))
