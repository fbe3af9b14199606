"""Run by test_official_sdk.py with the official SDK (anyscale==0.26.112) in a throwaway
environment, pointed at the emulator by ANYSCALE_HOST:
``python sdk_gaps_judge.py JOBRELAY_JOB_ID QUEUED_JOB_ID``. The first job ran to its end, the
second waits in a held job queue (it has no run). Prints one JSON line of what the SDK saw:
tags added, listed and removed on the first job; the image and compute config it reads
back from jobs it submitted; what get_logs gives on the job with no run."""

import json
import sys

import anyscale
from anyscale.job._private.job_sdk import PrivateJobSDK
from anyscale.job.models import JobConfig

jobrelay_id, queued_id = sys.argv[1], sys.argv[2]
PrivateJobSDK.wait.__kwdefaults__["interval_s"] = 0.2
out = {}

# tags: add (upsert), list, remove
before = anyscale.job.list_tags(job_id=jobrelay_id)
anyscale.job.add_tags(job_id=jobrelay_id, tags={"stage": "eval", "team": "relay-2"})
added = anyscale.job.list_tags(job_id=jobrelay_id)
anyscale.job.remove_tags(job_id=jobrelay_id, keys=["stage"])
after = anyscale.job.list_tags(job_id=jobrelay_id)
out["tags"] = {"before": before, "added": added, "after": after}

# image and compute config round trip: what was submitted reads back
images = {}
for image, compute in (
    ("anyscale/image/my-img:7", "my-cc:3"),
    ("anyscale/image/other-img:2", "big-cc:1"),
    ("docker.io/library/python:3.11-slim", "my-cc:3"),
):
    job_id = anyscale.job.submit(
        JobConfig(
            name=f"sdk-{len(images)}",
            entrypoint="echo image",
            image_uri=image,
            compute_config=compute,
            max_retries=0,
        )
    )
    anyscale.job.wait(id=job_id, timeout_s=60)
    config = anyscale.job.status(id=job_id).config
    images[image] = {"image_uri": config.image_uri, "compute_config": config.compute_config}
out["round_trip"] = images

# get_logs on a job that has no run yet
try:
    out["no_run_logs"] = {"result": anyscale.job.get_logs(id=queued_id)}
except Exception as exc:
    out["no_run_logs"] = {"error": type(exc).__name__, "message": str(exc)}
print(json.dumps(out), flush=True)
