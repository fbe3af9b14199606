"""Prefect integration for jobrelay: blocks, tasks and a flow that submit, wait on,
follow, cancel and hand artifacts between remote jobs.

- :class:`JobRelayCredentials` — where jobs run and how to sign in (a block);
- :class:`JobRelayJob` / :class:`JobRelayJobRun` — Prefect's ``JobBlock`` / ``JobRun``;
- tasks :func:`submit_job`, :func:`wait_for_job`, :func:`cancel_job`,
  :func:`get_job_logs`, :func:`run_job` (and :func:`run_job_sync` for sync tasks);
- the flow :func:`run_job_flow`, and :func:`cancel_flow_run_jobs`, the hook that cancels a
  flow run's jobs when it is cancelled or crashes.

Register the blocks with ``prefect block register -m prefect_jobrelay``.
"""

from prefect_jobrelay.credentials import JobRelayCredentials
from prefect_jobrelay.flows import run_job_flow
from prefect_jobrelay.hooks import cancel_flow_run_jobs
from prefect_jobrelay.identity import flow_run_prefix, job_key
from prefect_jobrelay.jobs import JobRelayJob, JobRelayJobRun
from prefect_jobrelay.tasks import (
    arun_job,
    cancel_job,
    get_job_logs,
    run_job,
    run_job_sync,
    submit_job,
    wait_for_job,
)

__all__ = [
    "JobRelayCredentials",
    "JobRelayJob",
    "JobRelayJobRun",
    "arun_job",
    "cancel_flow_run_jobs",
    "cancel_job",
    "flow_run_prefix",
    "get_job_logs",
    "job_key",
    "run_job",
    "run_job_flow",
    "run_job_sync",
    "submit_job",
    "wait_for_job",
]
