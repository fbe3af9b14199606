"""Run ``SubmitJobOperator.execute`` as one try of a task, the way a worker does.

``python -m tests.airflow.operator_worker RUN_ID ENTRYPOINT [mid-thread-start]`` prints the
result as JSON on its last line. SIGTERM calls the operator's ``on_kill`` as Airflow's
task runner does. Used by the tests that kill a worker (it inherits their environment:
the test AIRFLOW_HOME and connections); the XComs go to stdout too. SIGUSR1 prints
every thread's stack to stderr, for a test to show where a worker hangs.
"""

from __future__ import annotations

import concurrent.futures.thread
import faulthandler
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.bases.operator import ExecutorSafeguard
from airflow_jobrelay.operators import SubmitJobOperator

DAG_ID = "jobrelay_worker"
TASK_ID = "work"


@dataclass
class WorkerTI:
    """The task-instance identity a try has; XCom pushes are kept for the test to read."""

    run_id: str
    dag_id: str = DAG_ID
    task_id: str = TASK_ID
    map_index: int = -1
    try_number: int = 1
    stats_tags: dict[str, str] = field(default_factory=dict)
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, key: str) -> Any:
        """This task's own XCom, as a resumed try reads what it pushed before deferring."""
        return self.pushed.get(key)


def _holding_thread_start_locks(kill: Callable[[], None]) -> Callable[..., None]:
    """A SIGTERM handler that kills as if the signal had landed while this thread started a
    thread: holding threading's registry lock and the lock concurrent.futures takes for
    every executor submit (both private and global to the process)."""

    def handler(*_: object) -> None:
        with threading._active_limbo_lock, concurrent.futures.thread._global_shutdown_lock:  # type: ignore[attr-defined]
            kill()

    return handler


def run_try(
    run_id: str, entrypoint: str, *, mid_thread_start: bool = False, **op: Any
) -> tuple[dict[str, Any], WorkerTI]:
    """One try of the task: execute the operator with this run's identity.

    SIGTERM calls ``on_kill`` as Airflow's task runner does: in a signal handler on the
    thread running ``execute`` (``mid_thread_start``: at the worst moment for it).
    """
    ExecutorSafeguard.test_mode = True  # execute() is called directly, as in a unit test
    operator = SubmitJobOperator(task_id=TASK_ID, entrypoint=entrypoint, **op)
    ti = WorkerTI(run_id=run_id)
    kill = operator.on_kill
    signal.signal(
        signal.SIGTERM,
        _holding_thread_start_locks(kill) if mid_thread_start else lambda *_: kill(),
    )
    result = operator.execute({"ti": ti})  # type: ignore[arg-type]
    return result, ti


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the tests dump a hung worker
    mid_thread_start = sys.argv[3:] == ["mid-thread-start"]
    result, ti = run_try(
        sys.argv[1], sys.argv[2], mid_thread_start=mid_thread_start, poll_interval=0.05
    )
    print(json.dumps({"result": result, "pushed": ti.pushed}), flush=True)
