"""Prefect integration for jobrelay: blocks, tasks and a flow that submit, wait on,
follow, cancel and hand artifacts between remote jobs.

- :class:`JobRelayCredentials` — where jobs run and how to sign in (a block);
- :class:`JobRelayJob` / :class:`JobRelayJobRun` — Prefect's ``JobBlock`` / ``JobRun``;
- tasks :func:`submit_job`, :func:`wait_for_job`, :func:`cancel_job`,
  :func:`get_job_logs`, and :func:`arun_job` / :func:`run_job` (async / sync, Prefect's
  ``afoo``/``foo`` convention: ``run_job`` in async code is ``arun_job``);
- the flow :func:`run_job_flow`, and :func:`cancel_flow_run_jobs`, the hook that cancels a
  flow run's jobs when it is cancelled or crashes;
- the flow :func:`cancel_orphaned_jobs`, deployed on a schedule: it cancels the jobs whose
  flow run has ended (every job records its owner, :mod:`prefect_jobrelay._ownership`).

Register the blocks with ``prefect block register -m prefect_jobrelay``.
"""

from prefect_jobrelay._credentials import JobRelayCredentials
from prefect_jobrelay._flows import run_job_flow
from prefect_jobrelay._hooks import cancel_flow_run_jobs
from prefect_jobrelay._identity import flow_run_prefix, job_key
from prefect_jobrelay._jobs import JobRelayJob, JobRelayJobRun
from prefect_jobrelay._ownership import current_owner, installation_id
from prefect_jobrelay._reaper import PrefectOwnerLookup, cancel_orphaned_jobs
from prefect_jobrelay._tasks import (
    arun_job,
    cancel_job,
    get_job_logs,
    run_job,
    submit_job,
    wait_for_job,
)

__all__ = [
    "JobRelayCredentials",
    "JobRelayJob",
    "JobRelayJobRun",
    "PrefectOwnerLookup",
    "arun_job",
    "cancel_flow_run_jobs",
    "cancel_job",
    "cancel_orphaned_jobs",
    "current_owner",
    "flow_run_prefix",
    "get_job_logs",
    "installation_id",
    "job_key",
    "run_job",
    "run_job_flow",
    "submit_job",
    "wait_for_job",
]
