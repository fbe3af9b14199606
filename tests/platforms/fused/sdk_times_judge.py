"""Run by test_official_sdk.py with the official SDK (fused==2.9.5) in a throwaway
environment (HOME's settings point it at the emulator): ``python sdk_times_judge.py JOB_ID``.
Prints ``JUDGE {json}``: the job's times and page as the SDK's JobResponse (the job list)
and RunResponse (its status) give them."""

import json
import sys

from fused.api import FusedAPI

job_id = sys.argv[1]
api = FusedAPI()
listed = [job for job in api.get_jobs(n=25).jobs if job.id == job_id]
run = api.get_status(job_id)
seen = {
    "listed": len(listed),
    "creation_date": listed[0].creation_date.isoformat() if listed else None,
    "list_job_status_date": listed[0].job_status_date.isoformat() if listed else None,
    "list_logs_url": listed[0].logs_url if listed else None,
    "job_status": run.job_status,
    "job_status_date": run.job_status_date.isoformat() if run.job_status_date else None,
    "logs_url": run.logs_url,
}
print("JUDGE " + json.dumps(seen), flush=True)
