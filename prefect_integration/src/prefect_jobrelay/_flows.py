"""A flow that submits one job and waits for it, cancelling it when the flow run is."""

from __future__ import annotations

from typing import Any

from prefect import flow

from prefect_jobrelay._credentials import JobRelayCredentials
from prefect_jobrelay._hooks import cancel_flow_run_jobs
from prefect_jobrelay._tasks import arun_job

__all__ = ["run_job_flow"]


@flow(
    name="jobrelay-run-job",
    on_cancellation=[cancel_flow_run_jobs()],
    on_crashed=[cancel_flow_run_jobs()],
)
async def run_job_flow(
    credentials: JobRelayCredentials | str,
    spec: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    queue_timeout: float | None = None,
    run_timeout: float | None = None,
    timeout: float | None = None,
    poll_frequency_seconds: float | None = None,
    artifact_key: str | None = None,
) -> dict[str, Any]:
    """Run ``spec`` (a ``JobSpec``'s fields) on the platform ``credentials`` names (a saved
    block's name in a deployment) and return its run record."""
    record: dict[str, Any] = await arun_job(
        credentials,
        spec,
        inputs=inputs,
        queue_timeout=queue_timeout,
        run_timeout=run_timeout,
        timeout=timeout,
        poll_frequency_seconds=poll_frequency_seconds,
        artifact_key=artifact_key,
    )
    return record
