"""Run by test_official_sdk.py with the official SDK (fused==2.9.5) in a throwaway
environment: ``python sdk_judge.py JOBRELAY_JOB_ID``. HOME holds ``.fused/settings.toml``
pointing the SDK at the emulator (with ``no_login``), ``FUSED_AUTH_TOKEN`` the token. Prints
JSON lines after ``JUDGE `` for the test (the SDK prints too): ``{"long_id"}`` when a long
job runs (then waits for a line on stdin), and at the end everything the SDK saw."""

import contextlib
import io
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import fused
from fused.api import FusedAPI
from fused.models.internal import RunResponse

jobrelay_id = sys.argv[1]
ROOT = fused.options.base_url.removesuffix("/server/v1")
# fused.run waits with RunResponse.wait_for_job's defaults (a status GET every 5 s)
RunResponse.wait_for_job.__defaults__ = (0.1, None)


seconds: dict = {}  # each call's duration: from its mark to the next
_last = ["", time.monotonic()]


def mark(call: str) -> None:
    """A marker in the emulator's request log: the requests after it are this call's."""
    now = time.monotonic()
    if _last[0]:
        seconds[_last[0]] = round(now - _last[1], 3)
    _last[:] = [call, now]
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"{ROOT}/__mark__/{urllib.parse.quote(call)}")


def emit(data: dict) -> None:
    print("JUDGE " + json.dumps(data, default=str), flush=True)


def messages(records: list) -> list:
    return [r["message"] for r in records]


@fused.udf
def square(x: int = 2, pause: float = 0.0):
    import time

    print(f"squaring {x}")
    time.sleep(pause)
    return {"x": x, "square": x * x}


@fused.udf
def ticks(count: int = 5):
    import time

    for i in range(1, count + 1):
        print(f"tick-{i}", flush=True)
        time.sleep(0.15)
    time.sleep(1.0)  # tail_logs reads the last tick before the instance stops


@fused.udf
def sleeper(seconds: float = 60):
    import time

    print("sleeping", flush=True)
    time.sleep(seconds)


out = {"seconds": seconds}
api = FusedAPI()

# -- a job jobrelay started ----------------------------------------------------------------
mark("jobrelay's job: job_get_status(id)")
theirs = fused.api.job_get_status(jobrelay_id)
mark("jobrelay's job: get_job_config(id)")
config = api.get_job_config(jobrelay_id)
mark("jobrelay's job: get_logs()")
logs = theirs.get_logs()
mark("jobrelay's job: get_logs(since_ms=last)")
again = theirs.get_logs(since_ms=logs[-1]["timestamp"])
mark("jobrelay's job: get_results()")
results = theirs.get_results()
mark("jobrelay's job: FusedAPI().get_jobs(n=10)")
listed = api.get_jobs(n=10)
out["jobrelay_job"] = {
    "job_status": theirs.job_status,
    "status": theirs.status,
    "job_name": theirs.job_name,
    "config_name": config.name,
    "config_metadata": config.metadata,
    "logs": messages(logs),
    "logs_since_last": messages(again),
    "last_ms": logs[-1]["timestamp"],
    "results": [r.data for r in results],
    "listed": [j.id for j in listed.jobs],
}

# -- the SDK's own job: start, status, wait, logs, results ----------------------------------
mark("own job: run_batch(arg_list=[1,2,3],instance_type=small,name)")
job = square._to_job_step(arg_list=[1, 2, 3], pause=0.5).run_batch("small", name="sdk-squares")
mark("own job: get_status()")
first = job.get_status()
mark("own job: wait_for_job(poll_interval_seconds=0.1)")
done = job.wait_for_job(poll_interval_seconds=0.1, timeout=60)
mark("own job: get_logs()")
logs = job.get_logs()
mark("own job: get_logs(since_ms=first)")
since_first = job.get_logs(since_ms=logs[0]["timestamp"])
mark("own job: get_results()")
results = job.get_results()
mark("own job: cancel(finished)")
cancelled_done = job.cancel()
out["sdk_job"] = {
    "id": job.job_id,
    "started": {"job_name": job.job_name, "status": job.status, "total": job.total_tasks},
    "first_status": first.status,
    "job_status": done.job_status,
    "finished": [done.finished_tasks, done.total_tasks],
    "logs": messages(logs),
    "since_first": messages(since_first),
    "results": [r.data for r in results],
    "after_cancel": cancelled_done.job_status,
}
mark("fused.run(udf,x=7,instance_type=small)")
out["fused_run"] = fused.run(square, x=7, instance_type="small")

# -- tail a job to its end -----------------------------------------------------------------
mark("run_batch(ticks)")
ticker = ticks._to_job_step(arg_list=[5]).run_batch("small", name="sdk-ticks")
mark("tail_logs(refresh_seconds=0.1,sample_logs=False)")
printed = io.StringIO()
began = time.monotonic()
with contextlib.redirect_stdout(printed):
    ticker.tail_logs(refresh_seconds=0.1, sample_logs=False, timeout=30)
tailed_s = time.monotonic() - began
mark("job_get_status(ticks)")
out["tail"] = {
    "id": ticker.job_id,
    "printed": printed.getvalue().splitlines(),
    "seconds": tailed_s,
    "job_status": fused.api.job_get_status(ticker.job_id).job_status,
}

# -- cancel a running job; jobrelay follows it meanwhile -----------------------------------
mark("run_batch(sleeper)")
long = sleeper._to_job_step(arg_list=[60]).run_batch("small", name="sdk-long")
mark("get_status()+get_logs() until running")
while long.get_status().status != "running" or not long.get_logs():
    time.sleep(0.05)
emit({"long_id": long.job_id})
sys.stdin.readline()  # the test follows it with jobrelay, then says go
mark("cancel()")
cancelled = long.cancel()
mark("wait_for_job(cancelled)")
final = long.wait_for_job(poll_interval_seconds=0.1, timeout=30)
out["cancelled"] = {
    "answer": [cancelled.job_status, cancelled.status],
    "waited": [final.job_status, final.status, final.terminal_status],
}

# -- without a token the SDK fails at once (no_login): never a browser login ----------------
os.environ.pop("FUSED_AUTH_TOKEN")
mark("job_get_status(id) without a token")
began = time.monotonic()
try:
    fused.api.job_get_status(jobrelay_id)
    out["no_token"] = "answered"
except Exception as exc:
    out["no_token"] = f"{type(exc).__name__}: {exc}"
out["no_token_seconds"] = time.monotonic() - began
emit(out)
