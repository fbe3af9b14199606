"""Dagster integration for jobrelay: a resource that runs jobs for assets and ops (logs in
the run's event log, the run record as metadata, termination forwarded to the job).

>>> from dagster_jobrelay import JobRelayResource                     # doctest: +SKIP
"""

from dagster_jobrelay.identity import job_key, run_prefix
from dagster_jobrelay.resource import JobRelayResource, WaitOptions, run_metadata

__all__ = ["JobRelayResource", "WaitOptions", "job_key", "run_metadata", "run_prefix"]
