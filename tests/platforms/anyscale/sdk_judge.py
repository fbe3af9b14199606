"""Run by test_official_sdk.py with the official SDK (anyscale==0.26.112) in a throwaway
environment, pointed at the emulator by ANYSCALE_HOST; prints JSON for the test to check."""

import json
import sys
import time

import anyscale
from anyscale.job._private.job_sdk import PrivateJobSDK
from anyscale.job.models import JobConfig, JobState

jobrelay_id, mode = sys.argv[1], sys.argv[2]
out = {}
if mode == "bench":
    job_id = anyscale.job.submit(JobConfig(name="bench", entrypoint="sleep 1", max_retries=0))
    anyscale.job.wait(id=job_id, timeout_s=60)  # the public wait: polls every 10 s
    out["bench"] = {"id": job_id, "returned_at": time.time()}
    print(json.dumps(out))
    sys.exit(0)
PrivateJobSDK.wait.__kwdefaults__["interval_s"] = 0.2
# jobs jobrelay submitted
st = anyscale.job.status(id=jobrelay_id)
out["jobrelay_job"] = {
    "state": str(st.state),
    "name": st.name,
    "logs": anyscale.job.get_logs(id=jobrelay_id, mode="HEAD"),
    "runs": len(st.runs or []),
}
tagged = list(anyscale.job.list(tags_filter={"team": ["relay"]}, max_items=10))
out["jobrelay_job"]["tagged"] = [j.id for j in tagged]
# the SDK's own job: submit, wait, logs, list, archive
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
anyscale.job.wait(id=job_id, timeout_s=60)
out["sdk_job"] = {
    "id": job_id,
    "state": str(anyscale.job.status(id=job_id).state),
    "logs": anyscale.job.get_logs(id=job_id),
}
anyscale.job.archive(id=job_id)
out["sdk_job"]["listed_after_archive"] = [j.id for j in anyscale.job.list(max_items=50)]
# terminate a running one; jobrelay follows it from its id
long_id = anyscale.job.submit(
    JobConfig(name="sdk-long", entrypoint="echo started; sleep 30", max_retries=0)
)
anyscale.job.wait(id=long_id, state=JobState.RUNNING, timeout_s=60)
print(json.dumps({"long_id": long_id}), flush=True)
sys.stdin.readline()  # the test follows it with jobrelay, then says go
anyscale.job.terminate(id=long_id)
anyscale.job.wait(id=long_id, state=JobState.TERMINATED, timeout_s=60)
out["terminated"] = str(anyscale.job.status(id=long_id).state)
print(json.dumps(out), flush=True)
