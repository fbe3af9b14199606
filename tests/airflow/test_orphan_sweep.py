"""Owners on Airflow's jobs and the reaper, in real Airflow runs (``dag.test()``) against
the local platform: task states come through the Task SDK's execution API."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from airflow_jobrelay._owners import (
    INSTALLATION_VARIABLE,
    AirflowOwnerLookup,
    report_for_task_state,
)
from airflow_jobrelay.reaper import memory_variable
from jobrelay import Client
from jobrelay.integration import Owner, OwnerState

from .conftest import _HOME, PLATFORM_HOME
from .dags.jobrelay_hello import hello_dag
from .dags.jobrelay_sweep import sweep_only_dag, sweep_test_dag
from .support import jobs_for, xcoms

pytestmark = pytest.mark.slow

PLATFORM = f"local://{PLATFORM_HOME}"
OTHER = "other-airflow"


@pytest.fixture(autouse=True)
def _no_jobs_left() -> Iterator[None]:
    """Every job a test started is cancelled afterwards (they sleep for minutes and would
    hold the local platform's slots)."""
    with Client(PLATFORM) as client:
        before = {j.ref.id for j in client.list_jobs(limit=1000)}
    yield
    with Client(PLATFORM) as client:
        for job in client.list_jobs(limit=1000):
            if job.state.is_active and job.ref.id not in before:
                client.cancel(job.ref)


def _variable(key: str) -> str | None:
    """An Airflow Variable as stored in the metadata DB (a test reads it; tasks use the SDK)."""
    with sqlite3.connect(_HOME / "airflow.db") as db:
        row = db.execute("SELECT val, is_encrypted FROM variable WHERE key=?", (key,)).fetchone()
    if row is None:
        return None
    if not row[1]:
        return str(row[0])
    from airflow.models.crypto import get_fernet

    return get_fernet().decrypt(str(row[0]).encode()).decode()


def _delete_variable(key: str) -> None:
    with sqlite3.connect(_HOME / "airflow.db") as db:
        db.execute("DELETE FROM variable WHERE key=?", (key,))


def _states(ids: Mapping[str, str]) -> dict[str, str]:
    """Each planted job: ``active`` (queued or running) or its final state."""
    with Client(PLATFORM) as client:
        by_id = {j.ref.id: j.state for j in client.list_jobs(limit=1000)}
    return {
        role: "active" if by_id[job_id].is_active else by_id[job_id].value
        for role, job_id in ids.items()
    }


def test_a_submitted_job_records_its_task_instance_as_owner() -> None:
    run = hello_dag(run_timeout=30).test()

    assert run.state == "success"
    (job,) = jobs_for("jobrelay_hello", "hello", run.run_id)
    installation = _variable(INSTALLATION_VARIABLE)
    assert job.owner == str(
        Owner("airflow", installation, ("jobrelay_hello", run.run_id, "hello", "-1", "1"))
    )
    # The same installation in the next run: it is created once, then read.
    again = hello_dag().test()
    (second,) = jobs_for("jobrelay_hello", "hello", again.run_id)
    assert Owner.parse(second.owner or "").installation == installation


def test_the_installation_option_names_the_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__JOBRELAY__INSTALLATION", "site-b")
    run = hello_dag(wait_for="none", entrypoint="sleep 60").test()

    assert run.state == "success"
    (job,) = jobs_for("jobrelay_hello", "hello", run.run_id)
    # wait_for="none": the job outlives the task on purpose, so the DAG run owns it.
    unit = ("jobrelay_hello", run.run_id, "hello", "-1", "1", "run")
    assert job.owner == str(Owner("airflow", "site-b", unit))


def test_a_bad_installation_option_fails_the_task_before_submitting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__JOBRELAY__INSTALLATION", "two words")
    run = hello_dag(retries=0).test()

    assert run.state == "failed"
    assert "[jobrelay] installation" in capsys.readouterr().out
    assert jobs_for("jobrelay_hello", "hello", run.run_id) == []


def test_a_job_with_cancel_on_kill_off_has_no_owner_and_the_sweep_leaves_it() -> None:
    # wait_for="none": the task ends at once, and with an owner (its DAG run, finished
    # then) the sweep would cancel the job; cancel_on_kill=False leaves it in every case.
    run = hello_dag(wait_for="none", entrypoint="sleep 60", cancel_on_kill=False).test()
    assert run.state == "success"
    (job,) = jobs_for("jobrelay_hello", "hello", run.run_id)
    assert job.owner is None

    _delete_variable(memory_variable("jobrelay_default"))
    sweep = sweep_only_dag(grace_period=0).test()

    assert sweep.state == "success"
    (job,) = jobs_for("jobrelay_hello", "hello", run.run_id)
    assert job.state.is_active
    # The same task with the default does record its run as owner and is swept.
    owned = hello_dag(wait_for="none", entrypoint="sleep 60").test()
    (owned_job,) = jobs_for("jobrelay_hello", "hello", owned.run_id)
    assert owned_job.owner is not None
    sweep_only_dag(grace_period=0).test()
    assert _states({"owned": owned_job.ref.id, "unowned": job.ref.id}) == {
        "owned": "CANCELLED",
        "unowned": "active",
    }


def test_the_sweep_cancels_only_jobs_whose_task_ended_or_is_gone() -> None:
    _delete_variable(memory_variable("jobrelay_default"))
    run = sweep_test_dag(grace_period=0).test()

    assert run.state == "success"
    ids = xcoms("jobrelay_sweep_test", run.run_id, "plant")["return_value"]
    assert _states(ids) == {
        "own_task_ended": "CANCELLED",
        "run_gone": "CANCELLED",
        "later_task_not_run_yet": "active",
        "run_scoped_in_this_run": "active",
        "other_installation": "active",
        "no_owner": "active",
    }
    summary = xcoms("jobrelay_sweep_test", run.run_id, "sweep")["return_value"]
    cancelled = {c["job"]: c["owner_state"] for c in summary["cancelled"]}
    assert cancelled == {
        ids["own_task_ended"]: "success",
        ids["run_gone"]: "the DAG run no longer exists",
    }
    assert summary["installation"] == _variable(INSTALLATION_VARIABLE)
    assert summary["lookup_calls"] == 1  # one DAG: one get_task_states call
    assert (summary["kept"], summary["unknown_owners"], summary["lookup_error"]) == (2, 0, None)


def test_a_dry_run_cancels_nothing() -> None:
    run = sweep_test_dag(grace_period=0, dry_run=True).test()

    ids = xcoms("jobrelay_sweep_test", run.run_id, "plant")["return_value"]
    assert set(_states(ids).values()) == {"active"}
    summary = xcoms("jobrelay_sweep_test", run.run_id, "sweep")["return_value"]
    assert {c["job"] for c in summary["would_cancel"]} == {ids["own_task_ended"], ids["run_gone"]}


def test_the_grace_period_counts_from_the_first_sweep_that_saw_the_end() -> None:
    key = memory_variable("jobrelay_default")
    _delete_variable(key)
    run = sweep_test_dag(grace_period=2).test()
    ids = xcoms("jobrelay_sweep_test", run.run_id, "plant")["return_value"]
    assert _states(ids)["own_task_ended"] == "active"  # first seen ended: grace starts
    remembered = json.loads(_variable(key) or "null")
    installation = _variable(INSTALLATION_VARIABLE) or ""
    unit = ("jobrelay_sweep_test", run.run_id, "plant", "-1", "1")
    assert str(Owner("airflow", installation, unit)) in remembered

    time.sleep(2.2)
    later = sweep_only_dag(grace_period=2).test()

    assert later.state == "success"
    assert _states(ids)["own_task_ended"] == "CANCELLED"
    # "later" ended after the first sweep: this sweep is the first to see it ended.
    assert _states(ids)["later_task_not_run_yet"] == "active"


# -- the lookup's answers (its reads stand in for the API server's) ---------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        *[
            (s, OwnerState.ALIVE)
            for s in (
                None,
                "scheduled",
                "queued",
                "running",
                "deferred",
                "up_for_retry",
                "up_for_reschedule",
                "restarting",
            )
        ],
        *[
            (s, OwnerState.ENDED)
            for s in ("success", "failed", "skipped", "upstream_failed", "removed")
        ],
        ("some_new_state", OwnerState.UNKNOWN),
    ],
)
def test_task_states_map_to_owner_states(state: str | None, expected: OwnerState) -> None:
    assert report_for_task_state(state).state is expected


def _owner(dag: str, run: str, task_id: str, map_index: int = -1, *scope: str) -> Owner:
    return Owner("airflow", "x", (dag, run, task_id, str(map_index), "1", *scope))


async def test_the_lookup_reads_each_dag_once_and_fails_closed_per_dag() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def read(dag_id: str, **criteria: Any) -> Mapping[str, Mapping[str, Any]]:
        calls.append((dag_id, criteria))
        if dag_id == "broken":
            raise RuntimeError("API server unavailable")
        return {"r1": {"a": "failed", "m_2": "running", "m_3": "success"}}

    owners = [
        _owner("etl", "r1", "a"),
        _owner("etl", "r1", "m", 2),
        _owner("etl", "r1", "m", 3),
        _owner("etl", "r1", "gone_task"),
        _owner("etl", "r9", "a"),
        _owner("broken", "r1", "a"),
        Owner("airflow", "x", ("not", "an", "airflow", "owner")),
    ]
    answer = await AirflowOwnerLookup("x", read).states(owners)

    assert [answer[o].state for o in owners] == [
        OwnerState.ENDED,
        OwnerState.ALIVE,
        OwnerState.ENDED,
        OwnerState.GONE,
        OwnerState.GONE,
        OwnerState.UNKNOWN,
        OwnerState.UNKNOWN,
    ]
    assert "API server unavailable" in answer[owners[5]].detail
    assert [dag for dag, _ in calls] == ["etl", "broken"]
    assert calls[0][1] == {"task_ids": ["a", "gone_task", "m"], "run_ids": ["r1", "r9"]}


async def test_a_mapped_key_that_is_also_a_task_id_is_unknown() -> None:
    def read(dag_id: str, **criteria: Any) -> Mapping[str, Mapping[str, Any]]:
        if criteria.get("map_index") == -1:  # "m_1" is an unmapped task of its own
            return {"r1": {"m_1": "success"}}
        return {"r1": {"m_1": "success"}}

    mapped, plain = _owner("etl", "r1", "m", 1), _owner("etl", "r1", "m_1")
    answer = await AirflowOwnerLookup("x", read).states([mapped, plain])

    assert answer[mapped].state is OwnerState.UNKNOWN
    assert answer[plain].state is OwnerState.ENDED
