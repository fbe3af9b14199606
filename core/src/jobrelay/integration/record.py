"""A job's result as one JSON value: what an orchestrator stores and shows."""

from __future__ import annotations

from typing import Any

from jobrelay.models import JobResult

__all__ = ["run_record"]


def run_record(result: JobResult) -> dict[str, Any]:
    """The run record: plain JSON, no secret (refs and statuses carry none).

    Keys: ``ref`` (the ``JobRef`` dict, enough to find the job again), ``job_id``,
    ``platform``, ``url``, ``queue``, ``queued_s``, ``ran_s``, ``state``,
    ``platform_state``, ``exit_code``, ``message``, ``attempt``, ``reattached``,
    ``metrics`` and ``outputs`` (name -> ``ArtifactRef`` dict, the inputs of a next job).
    """
    status = result.status
    return {
        "ref": result.ref.model_dump(mode="json"),
        "job_id": result.ref.id,
        "platform": result.ref.platform,
        "url": status.url or result.ref.url,
        "queue": status.queue,
        "queued_s": status.queued_s,
        "ran_s": status.run_s,
        "state": status.state.value,
        "platform_state": status.platform_state,
        "exit_code": status.exit_code,
        "message": status.message,
        "attempt": status.attempt,
        "reattached": result.ref.reattached,
        "metrics": status.metrics,
        "outputs": {name: ref.model_dump(mode="json") for name, ref in result.outputs.items()},
    }
