"""``SubmitJobOperator`` and ``JobSensor`` refuse every bad argument before anything is
sent (hypothesis): as the DAG is parsed for a plain value, at execute (before the submit)
for a value a template rendered. The error is the provider's ``JobRelayConfigError``
naming the argument, never another exception type, and the platform has no job.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from airflow_jobrelay.exceptions import JobRelayConfigError
from airflow_jobrelay.operators import SubmitJobOperator
from airflow_jobrelay.sensors import JobSensor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient
from jobrelay.integration import run_sync

from tests.airflow.conftest import PLATFORM_HOME
from tests.airflow.operator_worker import DAG_ID, TASK_ID, WorkerTI
from tests.core.test_validation_fuzz import bad_flags, bad_seconds, bad_spec_fields

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# operator argument -> values it must refuse
BAD_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "queue_timeout": bad_seconds,
    "run_timeout": bad_seconds,
    "poll_interval": bad_seconds,
    "max_poll_interval": bad_seconds,
    "cancel_on_timeout": bad_flags,
    "cancel_on_kill": bad_flags,
    "deferrable": bad_flags,
    "wait_for": st.one_of(
        st.text(max_size=6).filter(lambda t: t not in ("finished", "running", "none")),
        st.none(),
        st.integers(),
    ),
    "env": st.one_of(
        st.just(["A=B"]),
        st.dictionaries(
            st.just("A"), st.one_of(st.none(), st.booleans(), st.just([1])), min_size=1
        ),
        st.integers(),
    ),
    "tags": st.one_of(st.just(["a"]), st.just({"k": None}), st.just({"": "v"})),
    "priority": st.one_of(st.integers(min_value=1001), st.integers(max_value=-1001)),
    "max_retries": st.one_of(st.integers(max_value=-1), st.integers(min_value=1001)),
    "job_timeout": st.one_of(st.just(float("nan")), st.floats(max_value=0), st.just(1e12)),
    "job_name": st.just("n" * 201),
    "job_queue": st.sampled_from(["", " ", "q" * 129]),
    "job_resources": st.just({"cpu": -1}),
    "config": st.just({"x": float("nan")}),
    "inputs": st.one_of(st.just({"i" * 300: "m:latest"}), st.just({"m": 3}), st.integers()),
    "entrypoint": st.sampled_from(["", "  ", []]),
    "working_dir": st.just("a\0b"),
    "jobrelay_conn_id": st.just(" "),
}
# The JobSpec field an argument fills, where the error names the field.
SPEC_FIELD = {
    "job_name": "name",
    "job_queue": "queue",
    "job_resources": "resources",
    "job_timeout": "timeout_s",
}


def _jobs() -> int:
    async def count(client: AsyncClient) -> int:
        return len(await client.list_jobs(limit=1000))

    return run_sync(lambda: AsyncClient(f"local://{PLATFORM_HOME}?autostart=0"), count)


def _names(exc: JobRelayConfigError, argument: str) -> bool:
    field = (exc.field or "").split(".")[0]
    return field in (argument, SPEC_FIELD.get(argument), "max_poll_interval")


@SETTINGS
@given(data=st.data(), argument=st.sampled_from(sorted(BAD_ARGUMENTS)))
def test_a_bad_operator_argument_is_refused_as_the_dag_is_parsed(
    data: st.DataObject, argument: str
) -> None:
    value = data.draw(BAD_ARGUMENTS[argument])
    before = _jobs()
    kwargs: dict[str, Any] = {"task_id": TASK_ID, "entrypoint": "true", argument: value}
    with pytest.raises(JobRelayConfigError) as info:
        SubmitJobOperator(**kwargs)
    assert _names(info.value, argument), info.value
    assert _jobs() == before


@SETTINGS
@given(fields=bad_spec_fields)
def test_a_rendered_value_is_checked_at_execute_before_the_submit(fields: dict[str, Any]) -> None:
    """Template fields hold a template at parse time; what it rendered to is checked
    before anything is sent (here: the operator's attributes set as rendering does)."""
    attrs = {"name": "job_name", "queue": "job_queue", "timeout_s": "job_timeout"}
    operator = SubmitJobOperator(task_id=TASK_ID, entrypoint="{{ params.cmd }}")
    operator.entrypoint = "true"
    for field, value in fields.items():
        setattr(operator, attrs.get(field, field), value)
    run_id = f"fuzz-{uuid.uuid4().hex[:8]}"
    with pytest.raises(JobRelayConfigError) as info:
        operator.execute({"ti": WorkerTI(run_id=run_id)})  # type: ignore[arg-type]
    assert (info.value.field or "").split(".")[0] in fields
    assert not [s for s in _all_jobs() if run_id in (s.ref.idempotency_key or "")]


def test_env_none_is_refused_not_sent_as_the_text_none() -> None:
    with pytest.raises(JobRelayConfigError) as info:
        SubmitJobOperator(task_id=TASK_ID, entrypoint="true", env={"A": None})
    assert info.value.field == "env"
    # A rendered one too, at execute.
    operator = SubmitJobOperator(task_id=TASK_ID, entrypoint="true", env="{{ params.env }}")
    operator.env = {"A": None}  # type: ignore[assignment]
    with pytest.raises(JobRelayConfigError):
        operator.execute({"ti": WorkerTI(run_id="fuzz-env-none")})  # type: ignore[arg-type]


def _all_jobs() -> list[Any]:
    async def listed(client: AsyncClient) -> list[Any]:
        return list(await client.list_jobs(limit=1000))

    return run_sync(lambda: AsyncClient(f"local://{PLATFORM_HOME}?autostart=0"), listed)


BAD_SENSOR_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "job": st.one_of(st.none(), st.integers(), st.just({"id": 1}), st.text(max_size=5)),
    "deferrable": bad_flags,
    "cancel_on_kill": bad_flags,
}


@SETTINGS
@given(data=st.data(), argument=st.sampled_from(sorted(BAD_SENSOR_ARGUMENTS)))
def test_a_bad_sensor_argument_is_refused_before_any_poke(
    data: st.DataObject, argument: str
) -> None:
    kwargs: dict[str, Any] = {
        "task_id": "sense",
        "job": {"platform": f"local://{PLATFORM_HOME}", "id": "j-1"},
        argument: data.draw(BAD_SENSOR_ARGUMENTS[argument]),
    }
    with pytest.raises(JobRelayConfigError) as info:
        JobSensor(**kwargs)
    assert info.value.field == argument


def test_a_rendered_bad_job_is_refused_by_poke_and_by_a_deferred_execute() -> None:
    sensor = JobSensor(task_id="sense", job="{{ ti.xcom_pull('submit') }}")
    sensor.job = "not a job"
    with pytest.raises(JobRelayConfigError) as info:
        sensor.poke({})  # type: ignore[arg-type]
    assert info.value.field == "job"
    deferred = JobSensor(task_id="sense", job="{{ x }}", deferrable=True)
    deferred.job = 5
    with pytest.raises(JobRelayConfigError):
        deferred.execute({})  # type: ignore[arg-type]


assert DAG_ID  # the WorkerTI's DAG: jobs are keyed by it
