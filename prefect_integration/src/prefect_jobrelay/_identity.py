"""The idempotency key of a job from the Prefect identity of the work.

Measured (reference §6, and Prefect 3.7.7's engine): a task retry keeps its task run; a
rerun of the flow run (a new process) keeps ``flow_run.id`` and ``task_key`` but not the
task run, and its ``dynamic_key`` is a random UUID for every call. So the key of a job is

    ``prefect:<flow run id>:<task key>:<work>:<n>``

where ``work`` is a digest of the job spec (what is submitted) and ``n`` counts the calls
of that task with that same spec in the flow run, in the order this process first saw
them. A rerun that calls the same tasks with the same specs finds the same keys, also
when ``.submit()``-ed calls start in another order: calls that swap places submit the
same spec, so either may take either job. A spec that changed (new inputs from a rerun
upstream) is new work and gets a new job. The flow run id stays readable at the front,
so a hook finds the flow run's jobs by :func:`flow_run_prefix`.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from uuid import UUID

from jobrelay.integration import scope_prefix, scoped_key
from prefect.context import FlowRunContext, TaskRunContext

__all__ = ["NAMESPACE", "flow_run_prefix", "job_key", "work_digest"]

NAMESPACE = "prefect"

_lock = threading.Lock()  # .submit()ed tasks run on threads
# (task run or flow run, attempt, work) -> the next submit's index within that attempt
_in_attempt: dict[tuple[object, ...], Iterator[int]] = {}
# (run, work, index) -> its position among the flow run's calls of this task and work
_positions: dict[tuple[object, ...], int] = {}
# (flow run, task key, work) -> the next position
_next_position: dict[tuple[object, ...], Iterator[int]] = {}


def work_digest(text: str) -> str:
    """A short digest of what a job runs (its spec as canonical JSON)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _position(run: object, attempt: int, scope: str, task: str, work: str) -> int:
    """The position of this call among the flow run's calls of ``task`` with ``work``;
    the same for every attempt of one task run."""
    with _lock:
        index = next(_in_attempt.setdefault((run, attempt, work), itertools.count()))
        slot = (run, work, index)
        if slot not in _positions:
            counter = _next_position.setdefault((scope, task, work), itertools.count())
            _positions[slot] = next(counter)
        return _positions[slot]


def job_key(given: str | None = None, *, work: str = "") -> str | None:
    """``given`` when the user gave a key; else the key of this call of the job whose spec
    digests to ``work``, from the run context (None outside any flow or task run: no
    reattach then)."""
    if given:
        return given
    task_run_ctx = TaskRunContext.get()
    if task_run_ctx is not None:
        run = task_run_ctx.task_run
        scope = str(run.flow_run_id or run.id)
        n = _position(run.id, run.run_count, scope, run.task_key, work)
        return scoped_key(NAMESPACE, scope, run.task_key, work, n)
    flow_run_ctx = FlowRunContext.get()
    if flow_run_ctx is not None and flow_run_ctx.flow_run is not None:
        flow_run = flow_run_ctx.flow_run
        scope = str(flow_run.id)
        n = _position(flow_run.id, flow_run.run_count, scope, "flow", work)
        return scoped_key(NAMESPACE, scope, "flow", work, n)
    return None


def flow_run_prefix(flow_run_id: UUID | str) -> str:
    """What the keys of every job a flow run's tasks submitted start with."""
    return scope_prefix(NAMESPACE, str(flow_run_id))


def current_flow_run_id() -> UUID | None:
    """The flow run this code runs in (also in a ``.submit()``-ed task's thread)."""
    task_run_ctx = TaskRunContext.get()
    if task_run_ctx is not None and task_run_ctx.task_run.flow_run_id is not None:
        return task_run_ctx.task_run.flow_run_id
    flow_run_ctx = FlowRunContext.get()
    if flow_run_ctx is not None and flow_run_ctx.flow_run is not None:
        return flow_run_ctx.flow_run.id
    return None
