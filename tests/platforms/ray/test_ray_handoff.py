"""Artifact handoff across platforms: a Ray job's output is a local job's input, and back.

The Ray client keeps its artifacts in an fsspec ``file://`` store (the cluster shares this
machine); the local client uses the local platform's own store. Inputs held in the other
platform's store are staged across, once per digest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec

from tests.platforms.conftest import kill_local_agents

MAKE_MODEL = """
import os
from jobrelay import runtime
assert "://" in os.environ["JOBRELAY_OUTPUTS"], "a Ray job gets a store URL, not a path"
path = runtime.outputs_dir() / "model.txt"
path.write_text("weights from ray\\n")
runtime.log_output("model", path)
"""

USE_MODEL = """
from jobrelay import runtime
text = runtime.input_path("model").read_text().strip()
print("local job read:", text)
path = runtime.outputs_dir() / "report.txt"
path.write_text(f"report on {text}\\n")
runtime.log_output("report", path)
"""

READ_REPORT = """
from jobrelay import runtime
print("ray job read:", runtime.input_path("report").read_text().strip())
"""


def python(script: str) -> list[str]:
    return [sys.executable, "-c", script]


async def test_outputs_cross_between_ray_and_local_both_ways(ray_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shared = f"file://{tmp_path / 'ray-store'}"
    try:
        async with (
            AsyncClient(ray_url, artifacts=shared) as ray,
            AsyncClient(f"local://{home}") as local,
        ):
            made = await ray.run(JobSpec(entrypoint=python(MAKE_MODEL)))
            model = made.outputs["model"]
            assert model.uri.startswith(shared)
            assert model.producer == made.ref

            used = await local.run(JobSpec(entrypoint=python(USE_MODEL), inputs={"model": model}))
            assert "local job read: weights from ray" in [
                line.text for line in await local.tail_logs(used.ref)
            ]
            report = used.outputs["report"]
            assert report.uri.startswith(f"local://{home}")

            back = await ray.run(JobSpec(entrypoint=python(READ_REPORT), inputs={"report": report}))
            lines = [line.text for line in await ray.tail_logs(back.ref, n=50)]
            assert "ray job read: report on weights from ray" in lines

            staged = await (await local.artifact_store()).resolve("model:latest")
            assert staged.digest == model.digest
    finally:
        kill_local_agents(home)


S3_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


async def test_a_ray_job_hands_artifacts_through_its_job_store_and_leaves_nothing_here(
    ray_url: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform's ``artifacts`` setting is where its jobs read and write: no client path.

    The Ray job's ``$JOBRELAY_OUTPUTS`` is a URL in the job store (moto S3), its input is
    fetched from there, and the client's own jobrelay home gets no handoff folder.
    """
    import s3fs  # type: ignore[import-untyped]

    s3fs.S3FileSystem(endpoint_url=s3_endpoint).mkdir("ray-jobs")
    client_home = tmp_path / "client-home"
    monkeypatch.setenv("JOBRELAY_HOME", str(client_home))
    env = {name: os.environ[name] for name in S3_ENV}
    async with AsyncClient(f"{ray_url}?artifacts=s3://ray-jobs/area") as ray:
        made = await ray.run(JobSpec(entrypoint=python(MAKE_MODEL), env=env))
        model = made.outputs["model"]
        assert model.uri.startswith("s3://ray-jobs/area")
        assert model.producer == made.ref
        read = await ray.run(
            JobSpec(entrypoint=python(READ_MODEL), env=env, inputs={"model": model})
        )
        lines = [line.text for line in await ray.tail_logs(read.ref, n=50)]
        assert "ray job read: weights from ray" in lines
        assert "input handed as: ['ref', 'store']" in lines  # no path on the client machine
    left = sorted(p.relative_to(client_home).as_posix() for p in client_home.rglob("*"))
    assert not [p for p in left if "handoff" in p], left
    areas = s3fs.S3FileSystem(endpoint_url=s3_endpoint).find("ray-jobs/area/.handoff/")
    assert not [p for p in areas if "/outputs/" in p], "the collected area was removed"


READ_MODEL = """
import json, os
from jobrelay import runtime
print("input handed as:", sorted(json.loads(os.environ["JOBRELAY_INPUTS"])["model"]))
print("ray job read:", runtime.input_path("model").read_text().strip())
"""
