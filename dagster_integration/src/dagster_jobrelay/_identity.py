"""The idempotency key of a job from the Dagster identity of the work.

Measured on Dagster 1.13 (reference §5): a step retry (``RetryPolicy``) keeps the run id,
step key, asset key and partition key; a re-execution is a new run whose
``root_run_id`` is the original run's (also for a re-execution of a re-execution). So a
job's key is ``dagster:<root run id or run id>:<step key>:<asset key>:<partition>:<n>``,
``n`` counting the jobs one attempt of the step submits. A retried step reattaches to the
job its first attempt submitted, and a re-execution reuses a job that already succeeded
(a failed or cancelled one is submitted again by the core, under a derived key).
The run id stays readable at the front, so the jobs of a run can be found by
:func:`run_prefix`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

from dagster import AssetExecutionContext, OpExecutionContext
from jobrelay.integration import scope_prefix, scoped_key

__all__ = ["NAMESPACE", "Context", "job_key", "run_prefix", "work_scope"]

NAMESPACE = "dagster"

Context = AssetExecutionContext | OpExecutionContext

_counters: dict[tuple[object, ...], Iterator[int]] = {}
_lock = threading.Lock()  # a step may submit from several threads


def work_scope(context: Context) -> str:
    """The run every try of this work belongs to: the original run of a re-execution."""
    run = context.run
    return run.root_run_id or run.run_id


def job_key(context: Context) -> str:
    """The key of the next job this attempt of the step submits."""
    step = context.get_step_execution_context().step.key
    asset = _asset(context)
    partition = _partition(context)
    attempt = (context.run.run_id, step, context.retry_number)
    with _lock:
        n = next(_counters.setdefault(attempt, itertools.count()))
    return scoped_key(NAMESPACE, work_scope(context), step, asset, partition, n)


def run_prefix(run_id: str) -> str:
    """What the key of every job submitted for the run ``run_id`` (or its re-executions,
    given the original run's id) starts with."""
    return scope_prefix(NAMESPACE, run_id)


def _asset(context: Context) -> str | None:
    if not context.has_assets_def:
        return None
    keys = sorted(key.to_user_string() for key in context.selected_asset_keys)
    return ",".join(keys) or None


def _partition(context: Context) -> str | None:
    if context.has_partition_key:
        return context.partition_key
    if context.has_partition_key_range:
        keys = context.partition_key_range
        return f"{keys.start}...{keys.end}"
    return None
