"""Test DAGs (an airflow DAG folder): a job that prints known lines; submit + sensors.

Tests build the same DAG ids with other settings through the factories; the module-level
DAGs are what the DAG processor finds.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task
from airflow_jobrelay.operators import SubmitJobOperator
from airflow_jobrelay.sensors import JobSensor

LINES = 5
HELLO = f'for i in $(seq 1 {LINES}); do echo "hello-line-$i of {{{{ run_id }}}}"; sleep 0.05; done'


def hello_dag(
    *,
    deferrable: bool = False,
    conn_id: str = "jobrelay_default",
    entrypoint: str = HELLO,
    **op: object,
) -> DAG:
    with DAG(
        dag_id="jobrelay_hello", start_date=datetime(2026, 1, 1), schedule=None, catchup=False
    ) as dag:
        SubmitJobOperator(
            task_id="hello",
            jobrelay_conn_id=conn_id,
            entrypoint=entrypoint,
            job_name="hello",
            env={"GREETING": "{{ dag.dag_id }}"},
            deferrable=deferrable,
            **op,  # type: ignore[arg-type]
        )
    return dag


def sensor_dag() -> DAG:
    with DAG(
        dag_id="jobrelay_sensor", start_date=datetime(2026, 1, 1), schedule=None, catchup=False
    ) as dag:
        submit = SubmitJobOperator(
            task_id="submit", entrypoint="sleep 1; echo sensed-job-done", wait_for="none"
        )
        JobSensor(task_id="watch_deferred", job=submit.output, deferrable=True)
        JobSensor(task_id="watch_poke", job=submit.output, poke_interval=0.2, mode="poke")
    return dag


def handoff_dag(platform_home: str) -> DAG:
    """An upstream task's ``outputs`` reach downstream jobs' inputs, by XComArg and template."""
    with DAG(
        dag_id="jobrelay_handoff", start_date=datetime(2026, 1, 1), schedule=None, catchup=False
    ) as dag:

        @task(multiple_outputs=True)
        def publish() -> dict[str, object]:
            """Stands for an upstream job: one artifact in the platform's store, as outputs."""
            import asyncio
            import tempfile
            from pathlib import Path

            from jobrelay.artifacts import open_store

            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp, "data.txt")
                data.write_text("rows\n")
                store = open_store(f"local://{platform_home}")
                ref = asyncio.run(store.put("dataset", data))
            return {"outputs": {"data": ref.model_dump(mode="json")}}

        published = publish()
        SubmitJobOperator(
            task_id="by_xcomarg", entrypoint="echo consumed", inputs=published["outputs"]
        )
        published >> SubmitJobOperator(  # a template pulls XCom but adds no dependency
            task_id="by_template",
            entrypoint="echo consumed",
            inputs={
                "data": "{{ ti.xcom_pull(task_ids='publish', key='outputs')['data'] | tojson }}"
            },
        )
    return dag


dag = hello_dag()
sensors = sensor_dag()
handoff = handoff_dag("/nonexistent")
