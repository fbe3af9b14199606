"""Who owns a job Airflow submitted, and whether that owner is still alive.

Every job ``SubmitJobOperator`` submits records its owner (:class:`jobrelay.Owner`):
``airflow:<installation>:<dag_id>:<run_id>:<task_id>:<map_index>:<try>``. The reaper
(:mod:`airflow_jobrelay.reaper`) reads it back from the platform's job list and asks
:class:`AirflowOwnerLookup` whether that task instance still owns its job.

**The installation** tells two Airflows that share one platform apart. It is, in order:

1. the ``[jobrelay] installation`` option (``AIRFLOW__JOBRELAY__INSTALLATION``), when set:
   the same value on every worker of one Airflow, another in each other Airflow;
2. else the Airflow Variable ``jobrelay_installation``, created once with a random id by
   the first task that needs it. A Variable lives in the metadata database, which is what
   an installation *is*, and every task reads it through the Task SDK.

Not a hash of the execution API URL or ``[api] base_url``: the stock Docker Compose file
and the defaults give every Airflow the same ``http://airflow-apiserver:8080/execution/``
or ``http://localhost:8080/``, and one Airflow's workers may reach it under several names.

A job that outlives its task on purpose (``wait_for="running"`` or ``"none"``: a sensor
downstream may still follow it) is owned by the DAG run: its owner has a sixth part,
``run``, and it is alive while any task of the run is unfinished.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobrelay.integration import Owner, OwnerReport, OwnerState

__all__ = [
    "ALIVE_STATES",
    "ENDED_STATES",
    "INSTALLATION_VARIABLE",
    "RUN_SCOPE",
    "AirflowOwnerLookup",
    "installation_id",
    "task_owner",
]

INSTALLATION_VARIABLE = "jobrelay_installation"
RUN_SCOPE = "run"
_INSTALLATION = re.compile(r"[A-Za-z0-9_.-]{1,64}")

# Task-instance states (``TaskInstanceState``); None is a cleared task waiting to be
# scheduled again: it owns its job, and its next try reattaches.
ALIVE_STATES: frozenset[str | None] = frozenset(
    {
        None,
        "scheduled",
        "queued",
        "running",
        "deferred",
        "up_for_retry",
        "up_for_reschedule",
        "restarting",
    }
)
ENDED_STATES: frozenset[str | None] = frozenset(
    {"success", "failed", "skipped", "upstream_failed", "removed"}
)

# ``get_task_states(dag_id, map_index=, task_ids=, run_ids=)`` -> {run_id: {key: state}},
# the key ``task_id`` or, for a mapped task instance, ``f"{task_id}_{map_index}"``.
ReadStates = Callable[..., Mapping[str, Mapping[str, Any]]]


def installation_id() -> str:
    """This Airflow installation's id (see the module docstring); the same in every task
    of one Airflow. ``ValueError`` for a ``[jobrelay] installation`` that is not 1-64
    letters, digits, ``_``, ``.`` or ``-``."""
    from airflow.sdk import Variable, conf

    explicit = conf.get("jobrelay", "installation", fallback=None)
    if explicit:
        return _checked(explicit, "[jobrelay] installation (AIRFLOW__JOBRELAY__INSTALLATION)")
    value = Variable.get(INSTALLATION_VARIABLE, default=None)
    if value is None:
        Variable.set(
            INSTALLATION_VARIABLE,
            secrets.token_hex(6),
            description="jobrelay: this Airflow's id on shared platforms (do not change)",
        )
        # Read back: when two first tasks race, both go on with the one stored last.
        value = Variable.get(INSTALLATION_VARIABLE)
    return _checked(str(value), f"the Airflow Variable {INSTALLATION_VARIABLE}")


def task_owner(ti: Any, installation: str, *, run_scoped: bool = False) -> Owner:
    """The owner of the job task instance ``ti`` submits (``run_scoped``: its DAG run)."""
    map_index = ti.map_index if ti.map_index is not None else -1
    unit = (ti.dag_id, ti.run_id, ti.task_id, str(map_index), str(ti.try_number))
    return Owner("airflow", installation, (*unit, RUN_SCOPE) if run_scoped else unit)


def _checked(value: str, where: str) -> str:
    if not _INSTALLATION.fullmatch(value):
        raise ValueError(
            f"{where} must be 1-64 letters, digits, '_', '.' or '-', got {value!r:.80}"
        )
    return value


@dataclass(frozen=True)
class _Unit:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    run_scoped: bool

    @property
    def key(self) -> str:
        """The task instance's key in ``get_task_states``' answer."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}_{self.map_index}"


def _unit(owner: Owner) -> _Unit | None:
    parts = owner.unit
    if len(parts) not in (5, 6) or (len(parts) == 6 and parts[5] != RUN_SCOPE):
        return None
    try:
        map_index = int(parts[3])
    except ValueError:
        return None
    return _Unit(parts[0], parts[1], parts[2], map_index, len(parts) == 6)


def report_for_task_state(state: Any) -> OwnerReport:
    """A task instance's state -> its owner report (an unknown word: fail closed)."""
    if state in ALIVE_STATES:
        return OwnerReport(OwnerState.ALIVE, detail=str(state or "cleared"))
    if state in ENDED_STATES:
        return OwnerReport(OwnerState.ENDED, detail=str(state))
    return OwnerReport(OwnerState.UNKNOWN, detail=f"unexpected task state {state!r:.40}")


def _report_for_run(states: Mapping[str, Any] | None) -> OwnerReport:
    if not states:
        return OwnerReport(OwnerState.GONE, detail="the DAG run no longer exists")
    unfinished = sorted(str(s) for s in states.values() if s not in ENDED_STATES)
    if unfinished:
        detail = f"DAG run has unfinished tasks ({unfinished[0]})"
        return OwnerReport(OwnerState.ALIVE, detail=detail)
    return OwnerReport(OwnerState.ENDED, detail="DAG run finished")


class AirflowOwnerLookup:
    """Task-instance states read through the Task SDK (the API server), never the DB.

    One ``get_task_states`` call per DAG for all of its owners (a second one only when a
    mapped task's key could be another task's id). ``read_states`` is the running task's
    ``ti.get_task_states``. States: unfinished (running, deferred, queued, scheduled,
    up for retry or reschedule, restarting, cleared) -> alive; finished (success, failed,
    skipped, upstream_failed, removed) -> ended; a task instance or DAG run that no longer
    exists -> gone; a call that failed -> unknown (its jobs are left alone).
    """

    orchestrator = "airflow"

    def __init__(self, installation: str, read_states: ReadStates) -> None:
        self.installation = installation
        self._read = read_states
        self.calls = 0

    async def states(self, owners: Sequence[Owner]) -> Mapping[Owner, OwnerReport]:
        answer: dict[Owner, OwnerReport] = {}
        by_dag: dict[str, list[tuple[Owner, _Unit]]] = defaultdict(list)
        for owner in owners:
            unit = _unit(owner)
            if unit is None:
                answer[owner] = OwnerReport(OwnerState.UNKNOWN, detail="not an Airflow task")
            else:
                by_dag[unit.dag_id].append((owner, unit))
        for dag_id, members in by_dag.items():
            try:
                answer.update(self._dag_states(dag_id, members))
            except Exception as exc:  # the API server's error: this DAG's jobs stay
                detail = f"reading task states failed: {type(exc).__name__}: {exc}"[:300]
                unknown = OwnerReport(OwnerState.UNKNOWN, detail=detail)
                answer.update((owner, unknown) for owner, _ in members)
        return answer

    def _dag_states(
        self, dag_id: str, members: list[tuple[Owner, _Unit]]
    ) -> dict[Owner, OwnerReport]:
        run_ids = sorted({u.run_id for _, u in members})
        whole_runs = any(u.run_scoped for _, u in members)
        task_ids = None if whole_runs else sorted({u.task_id for _, u in members})
        states = self._call(dag_id, task_ids=task_ids, run_ids=run_ids)
        # A mapped key ("t_1") is also the id an unmapped task "t_1" would have: where
        # that task may be in the answer, ask which keys are unmapped task ids.
        mapped = sorted(
            {
                u.key
                for _, u in members
                if u.map_index >= 0 and (task_ids is None or u.key in task_ids)
            }
        )
        unmapped: Mapping[str, Mapping[str, Any]] = {}
        if mapped:
            unmapped = self._call(dag_id, map_index=-1, task_ids=mapped, run_ids=run_ids)
        found: dict[Owner, OwnerReport] = {}
        for owner, unit in members:
            run = states.get(unit.run_id) or {}
            if unit.run_scoped:
                found[owner] = _report_for_run(run)
            elif unit.map_index >= 0 and unit.key in (unmapped.get(unit.run_id) or {}):
                detail = f"task key {unit.key!r} is also an unmapped task's id"
                found[owner] = OwnerReport(OwnerState.UNKNOWN, detail=detail)
            elif unit.key not in run:
                word = "task instance" if run else "DAG run"
                found[owner] = OwnerReport(OwnerState.GONE, detail=f"the {word} no longer exists")
            else:
                found[owner] = report_for_task_state(run[unit.key])
        return found

    def _call(self, dag_id: str, **criteria: Any) -> Mapping[str, Mapping[str, Any]]:
        self.calls += 1
        result = self._read(dag_id, **criteria)
        if not isinstance(result, Mapping):
            raise TypeError(f"get_task_states answered {type(result).__name__}, not a mapping")
        return result
