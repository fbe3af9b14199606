"""Run by test_official_sdk.py with the official SDK (anyscale==0.26.112) in a throwaway
environment, pointed at the emulator by ANYSCALE_HOST; prints JSON for the test to check."""

import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

import anyscale
from anyscale.job._private.job_sdk import PrivateJobSDK
from anyscale.job.models import JobConfig, JobState

jobrelay_id, mode = sys.argv[1], sys.argv[2]


def mark(call: str) -> None:
    """A marker in the emulator's request log: the requests after it are this call's."""
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"{os.environ['ANYSCALE_HOST']}/__mark__/{call}")


out = {}
if mode == "bench":
    job_id = anyscale.job.submit(JobConfig(name="bench", entrypoint="sleep 1", max_retries=0))
    mark("wait(id)")
    anyscale.job.wait(id=job_id, timeout_s=60)  # the public wait: polls every 10 s
    out["bench"] = {"id": job_id, "returned_at": time.time()}
    print(json.dumps(out))
    sys.exit(0)
PrivateJobSDK.wait.__kwdefaults__["interval_s"] = 0.2
# jobs jobrelay submitted
mark("status(id)")
st = anyscale.job.status(id=jobrelay_id)
mark("get_logs(id,HEAD)")
logs = anyscale.job.get_logs(id=jobrelay_id, mode="HEAD")
out["jobrelay_job"] = {
    "state": str(st.state),
    "name": st.name,
    "logs": logs,
    "runs": len(st.runs or []),
}
mark("list(tags_filter)")
tagged = list(anyscale.job.list(tags_filter={"team": ["relay"]}, max_items=10))
out["jobrelay_job"]["tagged"] = [j.id for j in tagged]
# the SDK's own job: submit, wait, logs, list, archive
mark("submit(working_dir,env_vars,image_uri,compute_config,tags)")
job_id = anyscale.job.submit(
    JobConfig(
        name="sdk-job",
        entrypoint="echo from the sdk $GREETING; cat hello.txt",
        working_dir=sys.argv[3],
        image_uri="anyscale/image/my-img:1",
        compute_config="my-cc:1",
        env_vars={"GREETING": "hello"},
        max_retries=0,
        tags={"origin": "sdk"},
    )
)
mark("wait(id)")
anyscale.job.wait(id=job_id, timeout_s=60)
mark("get_logs(id)")
logs = anyscale.job.get_logs(id=job_id)
out["sdk_job"] = {"id": job_id, "state": str(anyscale.job.status(id=job_id).state), "logs": logs}
mark("archive(id)")
anyscale.job.archive(id=job_id)
mark("list(max_items=50)")
out["sdk_job"]["listed_after_archive"] = [j.id for j in anyscale.job.list(max_items=50)]
# terminate a running one; jobrelay follows it from its id
mark("submit(minimal)")
long_id = anyscale.job.submit(
    JobConfig(name="sdk-long", entrypoint="echo started; sleep 30", max_retries=0)
)
mark("wait(id,state=RUNNING)")
anyscale.job.wait(id=long_id, state=JobState.RUNNING, timeout_s=60)
print(json.dumps({"long_id": long_id}), flush=True)
sys.stdin.readline()  # the test follows it with jobrelay, then says go
mark("terminate(id)")
anyscale.job.terminate(id=long_id)
mark("wait(id,state=TERMINATED)")
anyscale.job.wait(id=long_id, state=JobState.TERMINATED, timeout_s=60)
out["terminated"] = str(anyscale.job.status(id=long_id).state)
print(json.dumps(out), flush=True)
