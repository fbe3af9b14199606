"""A job's log lines and state changes, written to an Airflow task's log as they happen.

The same rendering for the operator (waiting in the worker) and the trigger (waiting on
the triggerer, whose log Airflow shows in the task's log while it is deferred).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jobrelay import JobUpdate

__all__ = ["log_update"]


class TaskLog(Protocol):
    """A task's or a trigger's logger (stdlib or Airflow's structlog one)."""

    def info(self, event: str, *args: Any) -> Any: ...


def log_update(log: TaskLog, update: JobUpdate) -> None:
    """One update: its new log lines (as the job wrote them), then a state or queue move."""
    for line in update.lines:
        log.info("%s", line.text)
    if update.kind == "state":
        log.info("Job %s is %s", update.status.ref.id, update.status.state.value)
    elif update.kind == "position" and update.status.queue_position is not None:
        position = update.status.queue_position
        log.info("Job %s is number %d in its queue", update.status.ref.id, position)
