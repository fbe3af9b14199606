"""A flow hook that cancels the jobs a flow run's tasks left behind.

Measured (reference §6): a task started with ``.submit()`` gets no exception when its flow
run is cancelled, and is SIGKILLed 30 s later with its job running; a flow-run process
killed outright runs no cleanup at all. The hook runs elsewhere (the serving process, a
worker's helper process), finds the flow run's jobs by their keys (every job a task
submits carries the flow run id in its key) and cancels the active ones.
"""

from __future__ import annotations

from typing import Any

from jobrelay.integration import cancel_scope
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging.loggers import flow_run_logger

from prefect_jobrelay._credentials import JobRelayCredentials, resolve_credentials
from prefect_jobrelay._identity import flow_run_prefix

__all__ = ["cancel_flow_run_jobs"]


def cancel_flow_run_jobs(
    *credentials: JobRelayCredentials | str, parameter: str = "credentials"
) -> Any:
    """An ``on_cancellation`` / ``on_crashed`` hook cancelling the flow run's active jobs.

    ``credentials`` are the platforms the flow's tasks use (blocks, or names of saved
    blocks); with none, the flow run's ``parameter`` parameter names the saved block.
    Jobs submitted with a key of your own are not the flow run's, and are left alone.

    >>> hook = cancel_flow_run_jobs(creds)
    >>> @flow(on_cancellation=[hook], on_crashed=[hook])        # doctest: +SKIP
    ... def pipeline(): ...
    """

    async def cancel_flow_run_jobs(flow: Any, flow_run: FlowRun, state: State[Any]) -> None:
        logger = flow_run_logger(flow_run)
        found: list[JobRelayCredentials | str] = list(credentials)
        if not found and isinstance(flow_run.parameters.get(parameter), str):
            found = [flow_run.parameters[parameter]]
        if not found:
            logger.warning(
                "No jobrelay credentials to cancel this flow run's jobs with: pass them to "
                "cancel_flow_run_jobs(...) or name a saved block in the %r parameter",
                parameter,
            )
            return
        for given in found:
            creds = await resolve_credentials(given)
            async with creds.get_client() as client:
                refs = await cancel_scope(client, flow_run_prefix(flow_run.id), logger=logger)
            logger.info(
                "Flow run %s is %s: cancelled %d job(s) on %s",
                flow_run.name,
                state.name,
                len(refs),
                creds.platform,
            )

    return cancel_flow_run_jobs
