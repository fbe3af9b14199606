"""Dagster integration for jobrelay: a resource that runs jobs for assets and ops (logs in
the run's event log, the run record as metadata, termination forwarded to the job), an IO
manager that keeps asset values as artifacts, and Pipes on every platform.

>>> from dagster_jobrelay import JobRelayResource                     # doctest: +SKIP
"""

from dagster_jobrelay.identity import job_key, run_prefix
from dagster_jobrelay.io_manager import JobRelayIOManager, artifact_metadata, partition_alias
from dagster_jobrelay.pipes import JobLogMessageReader, JobRelayPipesClient
from dagster_jobrelay.resource import JobRelayResource, WaitOptions, run_metadata

__all__ = [
    "JobLogMessageReader",
    "JobRelayIOManager",
    "JobRelayPipesClient",
    "JobRelayResource",
    "WaitOptions",
    "artifact_metadata",
    "job_key",
    "partition_alias",
    "run_metadata",
    "run_prefix",
]
