"""The official Fused SDK (``fused==2.9.5``) as the judge of the emulator and of jobrelay:
it starts batch jobs of a UDF, reads their status, logs (with ``since_ms``) and results,
waits, tails and cancels them on the emulator; it reads a job jobrelay started (state,
name, metadata, logs, results); jobrelay follows the jobs the SDK started (state, each log
line once, results as outputs). The SDK runs in a throwaway environment
(``uv run --isolated --no-project --with fused==2.9.5``) whose HOME holds only
``.fused/settings.toml`` (the emulator's base URL, ``no_login``) and whose token comes from
``FUSED_AUTH_TOKEN``: it never starts its interactive browser login.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from jobrelay import AsyncClient, JobRef, JobSpec, JobState, PollPolicy
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator
from jobrelay_emulators.request_log import RecordedRequest

from tests.vendor_sdks import isolated_python, uv_command, uv_dirs

from .conftest import SQUARE

pytestmark = pytest.mark.timeout(240)
SDK = "fused==2.9.5"
JUDGE = Path(__file__).with_name("sdk_judge.py")
FAST = PollPolicy(initial_s=0.05, max_s=0.2)


@pytest.fixture(scope="module")
def sdk_python() -> list[str]:
    """The command that runs Python with the official SDK (skipped if out of reach)."""
    return isolated_python(SDK, "fused")


@pytest.fixture(scope="module")
def uv_env() -> dict[str, str]:
    return uv_dirs(uv_command())


def sdk_env(emulator: FusedEmulator, home: Path, uv_env: dict[str, str]) -> dict[str, str]:
    """A HOME of its own whose settings point the SDK at the emulator; the token from the
    environment; ``no_login`` so a missing token is an error, never a browser login."""
    (home / ".fused").mkdir(parents=True)
    (home / ".fused" / "settings.toml").write_text(
        f'base_url = "{emulator.base_url}"\nno_login = true\nsave_user_settings = false\n'
    )
    keep = {k: v for k, v in os.environ.items() if not k.startswith("FUSED_")}
    return {
        **keep,
        **uv_env,
        "HOME": str(home),
        "FUSED_AUTH_TOKEN": emulator.token,
        "FUSED_AUTH_TOKEN_TYPE": TOKEN_TYPE,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "BROWSER": "false",
    }


def judge_line(sdk: subprocess.Popen[str], errors: Path) -> dict[str, Any]:
    """The judge's next ``JUDGE {json}`` line (the SDK prints lines of its own)."""
    assert sdk.stdout is not None
    for line in sdk.stdout:
        if line.startswith("JUDGE "):
            found: dict[str, Any] = json.loads(line.removeprefix("JUDGE "))
            return found
    sdk.wait(10)
    raise AssertionError(errors.read_text()[-3000:])


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shown(r: RecordedRequest) -> str:
    """``METHOD path?query`` with the job id as ``{job}``, a signature as ``{sig}`` and a
    timestamp as ``{ms}``."""
    query = "&".join(
        f"{k}={'{sig}' if k == 'sig' else '{ms}' if k == 'since_ms' else '|'.join(v)}"
        for k, v in sorted(r.query.items())
    )
    return _ID.sub("{job}", f"{r.method} {r.path}" + (f"?{query}" if query else ""))


def by_sdk_call(requests: list[RecordedRequest]) -> dict[str, list[RecordedRequest]]:
    """The SDK's requests (not jobrelay's, which follows the same jobs meanwhile) under the
    marker of the call that made them."""
    calls: dict[str, list[RecordedRequest]] = {}
    current = "(before the first call)"
    for r in requests:
        if r.path.startswith("/__mark__/"):
            current = unquote(r.path.removeprefix("/__mark__/"))
            assert current not in calls, f"two calls are marked {current!r}"
            calls[current] = []
        elif r.headers.get("user-agent", "").startswith("python-requests"):
            calls.setdefault(current, []).append(r)
    return calls


async def test_the_sdk_reads_jobrelays_jobs_runs_its_own_and_jobrelay_follows_them(
    fused: FusedEmulator, sdk_python: list[str], uv_env: dict[str, str], tmp_path: Path
) -> None:
    url = f"fused://?base_url={fused.base_url}"
    async with AsyncClient(url, credential=fused.token, poll=FAST) as client:
        ours = await client.run(
            JobSpec(
                entrypoint="udf",
                name="relay",
                idempotency_key="k1",
                config={"code": SQUARE, "inputs": [3, 4], "instance_type": "small"},
            )
        )
        since = len(fused.requests)
        errors = tmp_path / "sdk.stderr"
        with errors.open("w") as stderr:
            sdk = await asyncio.to_thread(
                subprocess.Popen,
                [*sdk_python, str(JUDGE), ours.ref.id],
                env=sdk_env(fused, tmp_path / "home", uv_env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                cwd=tmp_path,
                start_new_session=True,  # uv and the SDK's Python: stopped together
            )
        assert sdk.stdout is not None
        assert sdk.stdin is not None
        try:
            first = await asyncio.to_thread(judge_line, sdk, errors)
            # jobrelay follows the running job the SDK started; the SDK cancels it
            long = JobRef(platform=(await client.platform()).url, id=first["long_id"])
            assert (await client.status(long)).state is JobState.RUNNING
            assert "sleeping" in [line.text for line in await client.tail_logs(long, n=10)]
            sdk.stdin.write("go\n")
            sdk.stdin.flush()
            final = await client.wait(long, raise_on_failure=False, timeout=60)
            rest, _ = await asyncio.to_thread(sdk.communicate, timeout=120)
        finally:
            if sdk.poll() is None:
                os.killpg(sdk.pid, signal.SIGKILL)
                sdk.wait(10)
        assert sdk.returncode == 0, errors.read_text()[-3000:]
        assert final.state is JobState.CANCELLED
        seen = json.loads(rest.strip().splitlines()[-1].removeprefix("JUDGE "))
        print("\nSDK call times:", seen["seconds"], "\ntail:", seen["tail"])

        # jobrelay follows the finished job the SDK started: state, each line once, results
        sdk_job = JobRef(platform=long.platform, id=seen["sdk_job"]["id"])
        done = await client.wait(sdk_job, timeout=30)
        lines = [line.text async for page in client.read_logs(sdk_job) for line in page.lines]
        store = await client.artifact_store()
        outputs = {
            name: json.loads((await store.fetch(ref, tmp_path / name)).read_bytes())
            for name, ref in done.outputs.items()
        }
    assert done.status.state is JobState.SUCCEEDED
    assert done.status.message == "3 of 3 tasks finished"
    assert lines == ["squaring 1", "squaring 2", "squaring 3"]
    assert outputs == {f"{i}.json": {"x": i + 1, "square": (i + 1) ** 2} for i in range(3)}

    # what the SDK saw of the job jobrelay started
    relay = seen["jobrelay_job"]
    assert relay["job_status"] == "Done"
    assert relay["status"] == "terminated"
    assert relay["job_name"] == relay["config_name"]
    assert relay["job_name"].startswith("relay.")
    assert relay["config_metadata"]["jobrelay_idempotency_key"] == "k1"
    assert relay["logs"] == ["squaring 3", "squaring 4"]
    assert relay["logs_since_last"] == ["squaring 4"]  # since_ms is inclusive
    assert relay["results"] == [{"x": 3, "square": 9}, {"x": 4, "square": 16}]
    assert ours.ref.id in relay["listed"]

    # the SDK's own jobs on the emulator
    own = seen["sdk_job"]
    assert own["started"] == {"job_name": "sdk-squares", "status": "pending", "total": 3}
    assert own["job_status"] == "Done"
    assert own["finished"] == [3, 3]
    assert own["logs"] == lines
    assert own["first_status"] in ("pending", "running")
    assert own["since_first"] == lines  # since_ms is inclusive: the first line again
    assert own["results"] == list(outputs.values())
    assert own["after_cancel"] == "Done"
    assert seen["fused_run"] == {"x": 7, "square": 49}
    ticks = [f"tick-{i}" for i in range(1, 6)]
    assert [line for line in seen["tail"]["printed"] if line.startswith("tick-")][-1] == "tick-5"
    assert ticks == sorted({line for line in seen["tail"]["printed"] if line in ticks})
    assert seen["tail"]["job_status"] == "Done"
    assert seen["cancelled"]["waited"] == ["Canceled", "terminated", True]
    assert seen["no_token"].startswith("BadCredentialsException")
    assert seen["no_token_seconds"] < 2

    # the requests each SDK call made, as the emulator logged them
    calls = by_sdk_call(fused.requests[since:])
    made = {call: [shown(r) for r in requests] for call, requests in calls.items()}
    print("\nrequests each SDK call made:")
    for call, lines in made.items():
        print(f"\n{call}:\n" + "\n".join(f"  {line}" for line in lines))
    unknown = [r.path for r in fused.requests[since:] if r.operation == "unknown"]
    assert all(path.startswith("/__mark__/") for path in unknown), unknown
    sdk_requests = [r for requests in calls.values() for r in requests]
    api = [r for r in sdk_requests if r.path.startswith("/server/v1/")]
    signed = [r for r in sdk_requests if not r.path.startswith("/server/v1/")]
    assert {r.headers.get("authorization") for r in api} == {f"{TOKEN_TYPE} {fused.token}"}
    assert {r.headers.get("fused-py-version") for r in api} == {"2.9.5"}
    assert {r.headers.get("x-fused-cache-disable") for r in api} == {"true"}
    assert signed
    assert all("authorization" not in r.headers for r in signed)
    starts = [r for r in api if r.method == "POST" and r.path == "/server/v1/run"]
    assert len(starts) == 4  # one per started job: none was sent twice
    assert {r.headers.get("fused-recursion") for r in starts} == {"1"}
    assert made["jobrelay's job: get_job_config(id)"] == [
        "GET /server/v1/job/by-id/{job}/config",
        "GET /configs/{job}?sig={sig}",
    ]
    assert made["jobrelay's job: get_logs(since_ms=last)"] == [
        "GET /server/v1/logs/{job}?since_ms={ms}"
    ]
    assert calls["jobrelay's job: get_logs(since_ms=last)"][0].query["since_ms"] == [
        str(seen["jobrelay_job"]["last_ms"])
    ]
    waited = made["own job: wait_for_job(poll_interval_seconds=0.1)"]
    assert len(waited) >= 2
    assert set(waited) == {"GET /server/v1/run/by-id/{job}"}
    tailed = made["tail_logs(refresh_seconds=0.1,sample_logs=False)"]
    assert tailed[:2] == ["GET /server/v1/run/by-id/{job}", "GET /server/v1/logs/{job}"]
    assert "GET /server/v1/logs/{job}?since_ms={ms}" in tailed
    assert made["own job: cancel(finished)"] == ["POST /server/v1/run/by-id/{job}/cancel"]
    assert made["cancel()"] == ["POST /server/v1/run/by-id/{job}/cancel"]
    assert made["job_get_status(id) without a token"] == []


TIMES = Path(__file__).with_name("sdk_times_judge.py")


async def test_the_sdk_sees_a_jobs_times_and_page_as_jobrelay_reports_them(
    fused: FusedEmulator, sdk_python: list[str], uv_env: dict[str, str], tmp_path: Path
) -> None:
    # Issue 26: submitted_at is the job list's creation_date, ended_at the final
    # job_status_date, url the page the SDK's logs_url names; started_at lies between.
    url = f"fused://?base_url={fused.base_url}"
    async with AsyncClient(url, credential=fused.token, poll=FAST) as client:
        result = await client.run(JobSpec(entrypoint="udf", config={"code": SQUARE, "inputs": [3]}))
    done = await asyncio.to_thread(
        subprocess.run,
        [*sdk_python, str(TIMES), result.ref.id],
        env=sdk_env(fused, tmp_path / "home", uv_env),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("JUDGE "))
    seen = json.loads(line.removeprefix("JUDGE "))
    status = result.status
    assert seen["listed"] == 1
    assert seen["job_status"] == "Done"
    assert status.submitted_at is not None
    assert status.started_at is not None
    assert status.ended_at is not None
    assert datetime.fromisoformat(seen["creation_date"]) == status.submitted_at
    assert datetime.fromisoformat(seen["job_status_date"]) == status.ended_at
    assert datetime.fromisoformat(seen["list_job_status_date"]) == status.ended_at
    assert status.submitted_at <= status.started_at <= status.ended_at
    assert seen["logs_url"] == seen["list_logs_url"] == status.url == result.ref.url
    assert status.url == f"{fused.url}/workbench/jobs/{result.ref.id}"
