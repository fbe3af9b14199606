"""Where a deferred task's log copy of its job stopped, kept in an XCom of the task.

A triggerer restart runs the trigger again from its kwargs, which Airflow never updates,
so the trigger would start following the job's log where the deferral began and write
every line since then a second time. The trigger saves its cursor here instead: after a
page of lines (at most once a second) and when it is stopped, and a restarted trigger
starts from it. Between two saves a hard kill (SIGKILL) of the triggerer can still repeat
up to a second of lines; a graceful restart repeats none.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

__all__ = ["LogProgress", "save_start"]

XCOM_KEY = "jobrelay_log_cursor"
SAVE_EVERY_S = 1.0


def save_start(context: Any, job_id: str, cursor: str | None = None) -> None:
    """Save where a deferral's log copy starts, from the task before it defers.

    The trigger's first run then finds a saved cursor: reading one that is not there
    would make Airflow log ``[error] XCom not found`` in the triggerer's log for every
    deferral (a triggerer cannot ask whether an XCom exists without that).
    """
    context["ti"].xcom_push(key=XCOM_KEY, value={"job": job_id, "cursor": cursor})


class LogProgress:
    """Saved log cursors of one trigger's task instance (a no-op outside a triggerer)."""

    def __init__(self, task_instance: Any, job_id: str) -> None:
        self._ti = task_instance
        self._job_id = job_id
        self._saved: str | None = None
        self._pending: str | None = None
        self._last_save = 0.0

    def _where(self) -> dict[str, Any]:
        ti = self._ti
        map_index = -1 if ti.map_index is None else int(ti.map_index)
        return {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": ti.run_id,
            "map_index": map_index,
        }

    async def load(self) -> str | None:
        """The cursor a previous run of this trigger saved for the same job, if any."""
        if self._ti is None:
            return None
        from airflow.sdk.execution_time.xcom import XCom

        try:
            value = await asyncio.to_thread(XCom.get_one, key=XCOM_KEY, **self._where())
        except Exception:  # (no supervisor to ask: start from the kwargs)
            return None
        if isinstance(value, dict) and value.get("job") == self._job_id:
            self._saved = value.get("cursor")
            return self._saved
        return None

    async def advanced(self, cursor: str | None) -> None:
        """The log copy reached ``cursor``: save it if the last save is a second old."""
        self._pending = cursor
        if time.monotonic() - self._last_save >= SAVE_EVERY_S:
            await self.flush()

    async def flush(self) -> None:
        """Save the newest cursor now (when the trigger is stopped)."""
        cursor = self._pending
        if self._ti is None or cursor is None or cursor == self._saved:
            return
        from airflow.sdk.execution_time.xcom import XCom

        self._last_save = time.monotonic()
        value = {"job": self._job_id, "cursor": cursor}
        try:
            await asyncio.to_thread(XCom.set, XCOM_KEY, value, **self._where())
        except Exception:  # (best effort: a restart then repeats some lines)
            return
        self._saved = cursor
