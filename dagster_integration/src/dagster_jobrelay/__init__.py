"""Dagster integration for jobrelay: a resource that runs jobs for assets and ops (logs in
the run's event log, the run record as metadata, termination forwarded to the job), an IO
manager that keeps asset values as artifacts, Pipes on every platform, and a sensor that
cancels the jobs whose run ended without cancelling them (a killed run worker).

>>> from dagster_jobrelay import JobRelayResource                     # doctest: +SKIP
"""

from dagster_jobrelay._identity import job_key, run_prefix
from dagster_jobrelay._io_manager import JobRelayIOManager, artifact_metadata, partition_alias
from dagster_jobrelay._owners import installation_of, owner_of
from dagster_jobrelay._pipes import JobLogMessageReader, JobRelayPipesClient
from dagster_jobrelay._reaper import DagsterOwnerLookup, cancel_orphaned_jobs_sensor
from dagster_jobrelay._resource import JobRelayResource, run_metadata

__all__ = [
    "DagsterOwnerLookup",
    "JobLogMessageReader",
    "JobRelayIOManager",
    "JobRelayPipesClient",
    "JobRelayResource",
    "artifact_metadata",
    "cancel_orphaned_jobs_sensor",
    "installation_of",
    "job_key",
    "owner_of",
    "partition_alias",
    "run_metadata",
    "run_prefix",
]
