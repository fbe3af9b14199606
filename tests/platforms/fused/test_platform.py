"""The Fused platform against the emulator over real HTTP on loopback: what a user of
``fused://`` notices (one job per key whatever the faults on start, every log line once in
order when many share a millisecond, results as artifacts fetched without the token,
cancel, a state Fused may add later)."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import sys
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobFailed, JobSpec, JobState, PollPolicy
from jobrelay.platforms.fused import FusedPlatform, open_platform
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

from .conftest import FAST_RETRY, SQUARE

pytestmark = pytest.mark.timeout(180)
FAST = PollPolicy(initial_s=0.05, max_s=0.2)

BLOB = """
import hashlib

@fused.udf
def udf(seed: str):
    print("making the blob for", seed)
    out = b""
    block = seed.encode()
    while len(out) < 300_000:
        block = hashlib.sha256(block).digest()
        out += block
    return out
"""
PRINTS = """
import sys, time

@fused.udf
def udf(count: int, burst: int = 50, pause: float = 0.0):
    for i in range(1, count + 1):
        print(f"line-{i}")
        if i % burst == 0:
            sys.stdout.flush()
            time.sleep(pause)
"""
SLEEPS = """
import time

@fused.udf
def udf(seconds: float = 60):
    print("sleeping", flush=True)
    time.sleep(seconds)
"""
RAISES = """
@fused.udf
def udf():
    print("step one")
    raise RuntimeError("the tile server refused")
"""


def client_of(platform: FusedPlatform) -> AsyncClient:
    return AsyncClient(platform, poll=FAST)  # type: ignore[arg-type]


def udf_spec(code: str, **fields: object) -> JobSpec:
    config = {"code": code, **fields.pop("config", {})}  # type: ignore[dict-item]
    return JobSpec(entrypoint="udf", config=config, **fields)  # type: ignore[arg-type]


async def test_faults_on_start_leave_exactly_one_job_per_key_over_20_trials(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    client = client_of(platform)
    faults = [
        {"kind": "after", "status": 503},  # the start was accepted, then a 503
        {"kind": "drop", "after": True},  # accepted, then the connection dropped
        {"kind": "after", "status": 502},
        {"kind": "status", "status": 503},  # refused before it was handled
        {"kind": "drop"},  # dropped before it was handled
    ]
    for trial in range(20):
        fused.add_fault("start", **faults[trial % len(faults)])
        key = f"fault-trial-{trial}"
        ref = await client.submit(udf_spec(SQUARE, idempotency_key=key))
        assert [job.id for job in fused.jobs_with_key(key)] == [ref.id]
    assert all(fault.hits == 1 for fault in fused.faults)
    assert len(fused.calls("start")) == 20 + 8  # refused starts were sent again, once


async def test_many_lines_in_one_millisecond_come_once_in_order_across_pages_and_restarts(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    fused.stop_clock()  # every record of this job shares one millisecond
    spec = udf_spec(PRINTS, config={"parameters": {"count": 400, "burst": 50, "pause": 0.15}})
    ref = await platform.submit(spec)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    for _ in range(2000):
        # a restart: a new client from the saved cursor, as a restarted trigger would
        again = await open_platform(
            f"fused://?base_url={fused.base_url}",
            credential=fused.token,
            token_type=TOKEN_TYPE,
            retry=FAST_RETRY,
        )
        try:
            page = await again.logs(ref, cursor)
        finally:
            await again.aclose()
        seen.extend(line.text for line in page.lines)
        cursor = page.cursor
        pages += bool(page.lines)
        if page.done:
            break
        await asyncio.sleep(0.03)
    assert seen == [f"line-{i}" for i in range(1, 401)]
    assert pages >= 3, "the lines should have come over several reads"
    stamps = {r["timestamp"] for r in fused.world.jobs[ref.id].logs}
    assert len(stamps) == 1


async def test_a_fused_result_is_the_input_of_a_local_job_bytes_intact(
    fused: FusedEmulator, platform: FusedPlatform, tmp_path: Path
) -> None:
    made = await client_of(platform).run(udf_spec(BLOB, config={"inputs": ["tile-7"]}))
    assert made.state is JobState.SUCCEEDED
    blob = made.outputs["0.bin"]
    original = fused.world.jobs[made.ref.id].results["0.bin"]
    assert blob.size == len(original) == 300_000 + (-300_000 % 32)
    read = (
        "import hashlib; from jobrelay import runtime; "
        "data = runtime.input_path('blob').read_bytes(); "
        "print(hashlib.sha256(data).hexdigest(), len(data))"
    )
    async with AsyncClient(f"local://{tmp_path}/home", poll=FAST) as local:
        used = await local.run(
            JobSpec(entrypoint=[sys.executable, "-c", read], inputs={"blob": blob})
        )
        lines = [line.text for line in await local.tail_logs(used.ref)]
    assert lines[-1] == f"{hashlib.sha256(original).hexdigest()} {len(original)}"
    files = fused.calls("file")
    assert files, "the result was downloaded from its signed URL"
    assert all("authorization" not in r.headers for r in files)
    assert json.loads(blob.metadata["fused_metadata"])["type"] == "bytes"


async def test_progress_outputs_and_logs_of_a_job_of_many_inputs(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    spec = udf_spec(SQUARE, config={"inputs": [1, {"x": 2}, 3], "parameters": {"offset": 1}})
    result = await client_of(platform).run(spec)
    assert result.status.message == "3 of 3 tasks finished"
    values = [json.loads(fused.world.jobs[result.ref.id].results[f"{i}.json"]) for i in range(3)]
    assert [v["square"] for v in values] == [2, 5, 10]
    assert sorted(result.outputs) == ["0.json", "1.json", "2.json"]
    lines = [line.text for line in await client_of(platform).tail_logs(result.ref)]
    assert lines == ["squaring 1", "squaring 2", "squaring 3"]


async def test_a_failing_udf_fails_the_job_with_its_error(platform: FusedPlatform) -> None:
    with pytest.raises(JobFailed) as info:
        await client_of(platform).run(udf_spec(RAISES))
    status = info.value.status
    assert status.state is JobState.FAILED
    assert status.exit_code == 1  # the UDF call's process ended with Python's 1
    assert "UDF call 0 failed" in (status.message or "")
    assert "RuntimeError: the tile server refused" in str(info.value)  # its last log lines


async def test_cancel_stops_the_udf_and_is_idempotent(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    client = client_of(platform)
    ref = await client.submit(udf_spec(SLEEPS))
    await client.wait(ref, until=JobState.RUNNING)
    for _ in range(100):
        if fused.world.jobs[ref.id].process is not None:
            break
        await asyncio.sleep(0.05)
    process = fused.world.jobs[ref.id].process
    assert process is not None
    await client.cancel(ref)
    await client.cancel(ref)
    final = await client.wait(ref, raise_on_failure=False, timeout=10)
    assert final.state is JobState.CANCELLED
    assert process.poll() is not None
    assert len(fused.calls("cancel")) == 1  # the second found it cancelled


async def test_a_status_fused_may_add_later_is_unknown_with_the_raw_value(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    ref = await platform.submit(udf_spec(SLEEPS))
    fused.force_state(ref.id, "Preempted", status="suspended")
    status = await platform.status(ref)
    assert status.state is JobState.UNKNOWN
    assert status.platform_state == "suspended"


async def test_reattach_by_key_finds_the_job_through_the_list(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    client = client_of(platform)
    first = await client.submit(udf_spec(SLEEPS, idempotency_key="nightly tiles/1"))
    for _ in range(30):  # newer jobs push it down the list
        await platform.submit(udf_spec(SQUARE))
    again = await client.submit(udf_spec(SLEEPS, idempotency_key="nightly tiles/1"))
    assert again.reattached
    assert again.id == first.id
    assert len(fused.calls("start")) == 31
    await client.cancel(first)


async def test_the_token_goes_to_the_api_only_and_never_shows(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    client = client_of(platform)
    result = await client.run(udf_spec(SQUARE))
    api = [r for r in fused.requests if r.operation != "file"]
    assert api
    assert all(r.headers["authorization"] == f"{TOKEN_TYPE} {fused.token}" for r in api)
    assert all(r.headers.get("x-fused-cache-disable") == "true" for r in api)
    assert fused.calls("start")[0].headers["fused-recursion"] == "1"
    seen = [repr(platform), platform.url, repr(result), repr(client)]
    assert not any(fused.token in text for text in seen)


async def test_100_waiters_cost_one_status_request_per_tick(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    refs = [await platform.submit(udf_spec(SLEEPS)) for _ in range(100)]
    await platform.statuses(refs)  # a first look at each job
    for _ in range(50):
        if all(j.status == "running" for j in fused.world.jobs.values()):
            break
        await asyncio.sleep(0.1)
    await platform.statuses(refs)
    before = len(fused.requests)
    found = await platform.statuses(refs)
    assert {s.state for s in found.values()} == {JobState.RUNNING}
    assert [r.operation for r in fused.requests[before:]] == ["list"]
    for ref in refs:
        await platform.cancel(ref)


GATED = """
import os, time

@fused.udf
def udf(x: int, gate: str = ""):
    while not os.path.exists(gate):
        time.sleep(0.02)
    print("past the gate", x)
    return {"x": x}
"""


@pytest.mark.slow
async def test_waiters_on_many_jobs_cost_the_list_and_one_results_read_per_job(
    fused: FusedEmulator, platform: FusedPlatform, tmp_path: Path
) -> None:
    """What a hosted API's rate limit sees while 40 waiters wait: one list a tick and each
    succeeded job's results once; no job's own status read. Every wait still gets its
    outputs, its progress and its start and end times."""
    gate = tmp_path / "gate"
    client = client_of(platform)
    refs = [
        await client.submit(
            udf_spec(GATED, config={"inputs": [k], "parameters": {"gate": str(gate)}})
        )
        for k in range(40)
    ]
    for _ in range(400):  # running before the waits begin (read off the emulator: no request)
        if all(fused.world.jobs[r.id].job_status == "Running" for r in refs):
            break
        await asyncio.sleep(0.05)
    before = len(fused.requests)
    waits = [asyncio.create_task(client.wait(ref, timeout=120)) for ref in refs]
    await asyncio.sleep(0.5)
    gate.touch()
    results = await asyncio.gather(*waits)
    during = collections.Counter(r.operation for r in fused.requests[before:])
    for k, result in enumerate(results):
        assert result.state is JobState.SUCCEEDED
        assert json.loads(fused.world.jobs[result.ref.id].results["0.json"]) == {"x": k}
        assert sorted(result.outputs) == ["0.json"]
        assert result.status.message == "1 of 1 tasks finished"
        assert result.status.started_at is not None
        assert result.status.ended_at is not None
    assert during["status"] == 0, during
    assert during["results"] == len(refs), during
    assert set(during) <= {"list", "results", "file"}, during
    assert (during["list"] + during["results"]) / len(refs) <= 1.5, during


async def test_statuses_leave_out_a_job_that_is_gone_and_do_not_hide_other_errors(
    fused: FusedEmulator, platform: FusedPlatform
) -> None:
    from jobrelay import AuthError, JobRef

    client = client_of(platform)
    ref = await client.submit(udf_spec(SQUARE, config={"inputs": [{"x": 2}]}))
    gone = JobRef(platform=platform.url, id="fj_gone")  # not listed: read alone
    assert list(await client.statuses([ref, gone])) == [ref.id]
    fused.add_fault("status", status=403)  # a refused read is no missing job
    with pytest.raises(AuthError):
        await client.statuses([gone])
