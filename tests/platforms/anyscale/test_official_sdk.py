"""The official Anyscale SDK (``anyscale==0.26.112``) as the judge of the emulator and of
jobrelay: it submits, reads status, waits, reads logs, lists, archives and terminates on the
emulator; it reads a job jobrelay submitted (state, tags, logs); jobrelay follows a job the
SDK submitted. The SDK runs in a throwaway environment
(``uv run --isolated --no-project --with anyscale==0.26.112``), never in the project's.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, JobState
from jobrelay.platforms.anyscale import KEY_TAG
from jobrelay_emulators.anyscale import AnyscaleEmulator

from tests.vendor_sdks import isolated_python

pytestmark = pytest.mark.timeout(240)
SDK = "anyscale==0.26.112"
JUDGE = Path(__file__).with_name("sdk_judge.py")


@pytest.fixture(scope="module")
def sdk_python() -> list[str]:
    """The command that runs Python with the official SDK (skipped if out of reach)."""
    return isolated_python(SDK, "anyscale")


def sdk_env(emulator: AnyscaleEmulator) -> dict[str, str]:
    return {
        **os.environ,
        "ANYSCALE_HOST": emulator.url,
        "ANYSCALE_CLI_TOKEN": emulator.token,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def sdk_operations(emulator: AnyscaleEmulator, since: int) -> list[str]:
    """The requests the SDK made (not jobrelay's, which follows the same jobs meanwhile)."""
    return [
        f"\n{r.path.removeprefix('/__mark__/')}:"
        if r.path.startswith("/__mark__/")
        else f"  {r.method} {r.path}"
        for r in emulator.requests[since:]
        if not r.headers.get("user-agent", "").startswith(("jobrelay", "Python-urllib"))
        or r.path.startswith("/__mark__/")
    ]


async def test_the_sdk_reads_jobrelays_jobs_runs_its_own_and_jobrelay_follows_them(
    anyscale: AnyscaleEmulator, sdk_python: list[str], tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "hello.txt").write_text("hello from the working dir\n")
    url = f"anyscale://?host={anyscale.url}"
    async with AsyncClient(url, credential=anyscale.token) as client:
        ours = await client.run(
            JobSpec(entrypoint="echo relay line", tags={"team": "relay"}, idempotency_key="k1")
        )
        since = len(anyscale.requests)
        sdk = await asyncio.to_thread(
            subprocess.Popen,
            [*sdk_python, str(JUDGE), ours.ref.id, "all", str(code)],
            env=sdk_env(anyscale),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert sdk.stdout is not None
        assert sdk.stdin is not None
        try:
            first = await asyncio.to_thread(sdk.stdout.readline)
            assert first, sdk.stderr.read() if sdk.stderr else ""
            long_id = json.loads(first)["long_id"]
            # jobrelay follows the job the SDK submitted
            theirs = await client.platform()
            ref = (await theirs.statuses([ours.ref]))[ours.ref.id].ref.model_copy(
                update={"id": long_id, "idempotency_key": None}
            )
            assert (await client.status(ref)).state is JobState.RUNNING
            assert "started" in [line.text for line in await client.tail_logs(ref, n=10)]
            sdk.stdin.write("go\n")
            sdk.stdin.flush()
            final = await client.wait(ref, raise_on_failure=False, timeout=60)
            rest, errors = await asyncio.to_thread(sdk.communicate, timeout=120)
        finally:
            if sdk.poll() is None:
                sdk.kill()
        assert sdk.returncode == 0, errors[-3000:]
        assert final.state is JobState.CANCELLED
    seen = json.loads(rest.strip().splitlines()[-1])
    assert seen["jobrelay_job"] == {
        "state": "SUCCEEDED",
        "name": seen["jobrelay_job"]["name"],
        "logs": "relay line\n",
        "runs": 1,
        "tagged": [ours.ref.id],
    }
    assert seen["sdk_job"]["state"] == "SUCCEEDED"
    assert seen["sdk_job"]["logs"] == "from the sdk hello\nhello from the working dir\n"
    assert seen["sdk_job"]["id"] not in seen["sdk_job"]["listed_after_archive"]
    assert seen["terminated"] == "TERMINATED"
    sdk_created = [j for j in anyscale.world.jobs.values() if j.name == "sdk-job"]
    runtime_env = sdk_created[0].config["runtime_env"]
    assert runtime_env["env_vars"] == {"GREETING": "hello"}
    assert runtime_env["working_dir"].startswith("s3://emulator-bucket/")
    assert all("cookie" not in r.headers for r in anyscale.calls("storage_put"))
    assert sdk_created[0].tags == {"origin": "sdk"}
    assert KEY_TAG in anyscale.jobs_tagged(KEY_TAG, "k1")[0].tags
    sdk_requests = sdk_operations(anyscale, since)
    print("\nrequests each SDK call made:" + "\n".join(sdk_requests))
    unknown = [r.path for r in anyscale.requests[since:] if r.operation == "unknown"]
    assert all(path.startswith("/__mark__/") for path in unknown), unknown


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_jobrelay_detects_a_finished_job_sooner_than_the_sdks_wait(
    anyscale: AnyscaleEmulator, sdk_python: list[str]
) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [*sdk_python, str(JUDGE), "-", "bench"],
        env=sdk_env(anyscale),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    bench = json.loads(done.stdout.strip().splitlines()[-1])["bench"]
    finished = anyscale.world.jobs[bench["id"]].runs[-1].finished_at
    assert finished is not None
    sdk_lag = bench["returned_at"] - _epoch(finished)
    async with AsyncClient(f"anyscale://?host={anyscale.url}", credential=anyscale.token) as c:
        ref = await c.submit(JobSpec(entrypoint="sleep 1"))
        await c.wait(ref)
        returned = time.time()
    ours = anyscale.world.jobs[ref.id].runs[-1].finished_at
    assert ours is not None
    our_lag = returned - _epoch(ours)
    print(f"\ndetection latency of wait, sleep 1: SDK {sdk_lag:.2f} s, jobrelay {our_lag:.2f} s")
    assert our_lag < sdk_lag
    assert our_lag < 2.5


GAPS = Path(__file__).with_name("sdk_gaps_judge.py")


async def test_the_sdk_tags_jobs_reads_back_images_and_compute_configs_and_no_run_logs(
    anyscale: AnyscaleEmulator, sdk_python: list[str]
) -> None:
    # Issue 26: /api/v2/tags/resource; the image and compute config the SDK rebuilds from a
    # job's build and compute-config ids are the submitted ones; get_logs on a job with no
    # run (its SDK asks for the chunks of run "", a path no route of the service takes).
    anyscale.create_queue("held")
    anyscale.hold("held")
    async with AsyncClient(f"anyscale://?host={anyscale.url}", credential=anyscale.token) as c:
        ran = await c.run(JobSpec(entrypoint="echo tagged", tags={"team": "relay"}))
        queued = await c.submit(JobSpec(entrypoint="echo never", queue="held"))
        since = len(anyscale.requests)
        done = await asyncio.to_thread(
            subprocess.run,
            [*sdk_python, str(GAPS), ran.ref.id, queued.id],
            env=sdk_env(anyscale),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        tags = seen["tags"]
        assert tags["before"]["team"] == "relay"
        assert tags["added"] == {**tags["before"], "stage": "eval", "team": "relay-2"}
        assert tags["after"] == {**tags["before"], "team": "relay-2"}
        assert anyscale.world.jobs[ran.ref.id].tags == tags["after"]
        # jobrelay still reads its own tags (the owner, the key) from the job
        assert (await c.status(ran.ref)).state is JobState.SUCCEEDED
    assert seen["round_trip"] == {
        "anyscale/image/my-img:7": {
            "image_uri": "anyscale/image/my-img:7",
            "compute_config": "my-cc:3",
        },
        "anyscale/image/other-img:2": {
            "image_uri": "anyscale/image/other-img:2",
            "compute_config": "big-cc:1",
        },
        # A registry image reads back as the alias of the cluster environment made for it
        # (the SDK's status asks for the alias); named as the SDK's to_cluster_env_name.
        "docker.io/library/python:3.11-slim": {
            "image_uri": "anyscale/image/docker-io-library-python-3-11-slim:1",
            "compute_config": "my-cc:3",
        },
    }
    # Modelled, not measured: a 404 in Anyscale's error envelope, which the SDK raises as
    # ValueError with its detail (SDK_REQUESTS.md says how sure that is).
    assert seen["no_run_logs"] == {"error": "ValueError", "message": "Not Found"}
    unknown = [r.path for r in anyscale.requests[since:] if r.operation == "unknown"]
    assert unknown == []
