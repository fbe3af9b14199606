"""The garbage collector in Airflow's trigger runner: freeze its idle heap, once.

A triggerer's trigger runner holds Airflow's imported heap (~160,000 tracked objects) for
its whole life. Each full collection walks all of it, and one starts whenever enough new
objects pile up, as they do when hundreds of deferred tasks start or end together: measured
120-280 ms per collection on one loop, up to 3.3 s on two busy cores, holding the GIL and
so stopping the triggerer's event loop (Airflow warns at 0.2 s). Airflow moves that heap
out of the collector's way with ``gc.freeze()`` in its DAG processor and LocalExecutor, but
not in its triggerer. :func:`freeze_idle_heap_once` does the same there: when the first
``JobTrigger`` runs in a process, it freezes every object alive at that moment (Airflow's
heap, jobrelay's modules), so later full collections walk only what came after them.

What that costs: objects frozen are never collected as cycles (freed by reference count
as usual); at the first trigger they are modules, classes and the runner's own state,
which live as long as the process. Nothing else changes: the collector stays on with its
thresholds, and nothing is frozen in any process that is not a trigger runner (a task
worker, a DAG parse, a test calling ``run()`` on its own loop).
"""

from __future__ import annotations

import gc
import sys
from types import FrameType

__all__ = ["freeze_idle_heap_once"]

_RUNNER_MODULE = "airflow.jobs.triggerer_job_runner"
# How far up from the trigger's ``run()`` Airflow's ``TriggerRunner.run_trigger`` may sit
# (it iterates ``run()`` directly; the slack is for wrappers such as a subclass's).
_FRAMES_UP = 8
_frozen = False


def freeze_idle_heap_once() -> bool:
    """Freeze the heap (``gc.freeze()``) the first time this runs inside Airflow's trigger
    runner in this process; ``True`` when it froze now. Call it from a trigger's ``run()``:
    it looks for ``TriggerRunner.run_trigger`` among its callers and does nothing outside
    one, and nothing after the first time."""
    global _frozen
    if _frozen or not _called_by_trigger_runner(sys._getframe(1)):
        return False
    _frozen = True
    gc.freeze()
    return True


def _called_by_trigger_runner(frame: FrameType | None) -> bool:
    # The runner's module is imported only in a triggerer: without it, this is not one.
    runner = sys.modules.get(_RUNNER_MODULE)
    trigger_runner = getattr(runner, "TriggerRunner", None)
    run_trigger = getattr(trigger_runner, "run_trigger", None)
    code = getattr(run_trigger, "__code__", None)
    if code is None:
        return False
    for _ in range(_FRAMES_UP):
        if frame is None:
            return False
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False
