"""Serve the test flows with a real Prefect runner: ``python -m tests.prefect.serve_flows``.

The runner polls the API server in ``PREFECT_API_URL`` and runs each flow run in a
process of its own, as ``flow.serve()`` does for users. The integration's reaper flow is
served beside the test flows (run on demand by the tests, not on a schedule).
"""

from __future__ import annotations

from prefect import serve
from prefect_jobrelay import cancel_orphaned_jobs

from tests.prefect.flows import async_job_flow, bare_async_job_flow, sync_job_flow

if __name__ == "__main__":
    serve(
        async_job_flow.to_deployment(name="served"),
        sync_job_flow.to_deployment(name="served"),
        bare_async_job_flow.to_deployment(name="served"),
        cancel_orphaned_jobs.to_deployment(name="served"),
        print_starting_message=False,
    )
