"""Artifact handoff across platforms: a Ray job's output is a local job's input, and back.

The Ray client keeps its artifacts in an fsspec ``file://`` store (the cluster shares this
machine); the local client uses the local platform's own store. Inputs held in the other
platform's store are staged across, once per digest.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jobrelay import AsyncClient, JobSpec

from tests.platforms.conftest import kill_local_agents

MAKE_MODEL = """
import os, pathlib
from jobrelay import runtime
path = pathlib.Path(os.environ["JOBRELAY_OUTPUTS"]) / "model.txt"
path.write_text("weights from ray\\n")
runtime.log_output("model", path)
"""

USE_MODEL = """
import os, pathlib
from jobrelay import runtime
text = runtime.input_path("model").read_text().strip()
print("local job read:", text)
path = pathlib.Path(os.environ["JOBRELAY_OUTPUTS"]) / "report.txt"
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
