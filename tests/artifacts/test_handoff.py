"""A real job process reads inputs and logs outputs through ``jobrelay.runtime``."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobrelay.artifacts import (
    collect_outputs,
    outputs_dir,
    prepare_inputs,
    record_inputs_consumed,
)
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.errors import ArtifactError, IntegrityError
from jobrelay.models import JobRef

from .conftest import folder_contents

JOB = textwrap.dedent(
    """
    from pathlib import Path
    from jobrelay import runtime

    text = runtime.input_path("data").read_text()
    images = sorted(p.name for p in runtime.input_path("images").rglob("*") if p.is_file())
    Path("result.txt").write_text(text.upper() + ",".join(images))
    Path("model").mkdir()
    Path("model", "weights.bin").write_bytes(b"\\x00\\x01" * 1000)
    runtime.log_output("result", "result.txt", metadata={"rows": 1}, aliases=["best"])
    runtime.log_output("model", "model", type="model")
    print(runtime.input_ref("data")["version"])
    """
)

PRODUCER = JobRef(platform="local:///srv", id="job-7")


def _run_job(env: dict[str, str], workdir: Path, script: str = JOB) -> str:
    (workdir / "job.py").write_text(script)
    done = subprocess.run(
        [sys.executable, "job.py"],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_job_reads_inputs_and_its_outputs_become_artifacts(
    store: ArtifactStore, tmp_path: Path, sample_folder: Path
) -> None:
    (tmp_path / "data.txt").write_text("hello")
    data = await store.put("dataset", tmp_path / "data.txt")
    await store.put("images", sample_folder)
    workdir = tmp_path / "job"

    env = await prepare_inputs({"data": "dataset:latest", "images": "images"}, store, workdir)
    printed = _run_job(env, workdir)
    await record_inputs_consumed(env, store, PRODUCER)
    outputs = await collect_outputs(outputs_dir(env), store, PRODUCER)

    assert printed.strip() == "v1"
    assert set(outputs) == {"result", "model"}
    result = outputs["result"]
    assert (result.producer, result.metadata, result.type) == (PRODUCER, {"rows": 1}, "file")
    assert await store.resolve("result:best") == result
    fetched = await store.fetch(result, tmp_path / "result.txt")
    assert fetched.read_text() == "HELLOREADME.md,a.bin,empty.txt,labels.csv"
    model = await store.fetch(outputs["model"], tmp_path / "model")
    assert outputs["model"].type == "model"
    assert folder_contents(model) == {"weights.bin": b"\x00\x01" * 1000}
    lineage = await store.lineage(data)
    assert lineage.consumers == [PRODUCER]
    assert (await store.lineage("result:v1")).producer == PRODUCER


async def test_collect_outputs_twice_returns_the_same_refs(
    store: ArtifactStore, tmp_path: Path
) -> None:
    workdir = tmp_path / "job"
    env = await _job_logging_one_output(store, workdir)

    first = await collect_outputs(outputs_dir(env), store, PRODUCER)
    (workdir / "o.txt").unlink()  # the job's files may be gone by the second call
    second = await collect_outputs(outputs_dir(env), store, PRODUCER)

    assert first == second
    assert [ref.version for ref in await store.list("out")] == ["v1"]


async def test_local_inputs_are_handed_over_in_place_and_verified(
    local_store: ArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "data.txt").write_text("hello")
    ref = await local_store.put("dataset", tmp_path / "data.txt")

    env = await prepare_inputs({"data": ref}, local_store, tmp_path / "job")
    path = Path(json.loads(env["JOBRELAY_INPUTS"])["data"]["path"])

    blob = await local_store.verified_local_path(ref)
    assert blob is not None
    assert path.samefile(blob)  # no copy was made: the blob, under the file's own name
    assert path.name == "data.txt"
    assert _replace_text(path, "HELLO") == "hello"
    with pytest.raises(IntegrityError):
        await prepare_inputs({"data": ref}, local_store, tmp_path / "job2")


async def test_output_whose_file_vanished_is_a_clear_error(
    store: ArtifactStore, tmp_path: Path
) -> None:
    workdir = tmp_path / "job"
    env = await _job_logging_one_output(store, workdir)
    (workdir / "o.txt").unlink()

    with pytest.raises(ArtifactError, match=r"'out' points at .*o\.txt, which does not exist"):
        await collect_outputs(outputs_dir(env), store, PRODUCER)


async def test_no_outputs_folder_means_no_outputs(store: ArtifactStore, tmp_path: Path) -> None:
    assert await collect_outputs(tmp_path / "never-made", store, PRODUCER) == {}


async def _job_logging_one_output(store: ArtifactStore, workdir: Path) -> dict[str, str]:
    """Run a job that writes ``o.txt`` and logs it as output ``out``; return its env."""
    env = await prepare_inputs({}, store, workdir)
    script = "from jobrelay import runtime\nopen('o.txt','w').write('x')\n"
    _run_job(env, workdir, script + "runtime.log_output('out', 'o.txt')\n")
    return env


def _replace_text(path: Path, text: str) -> str:
    """Overwrite a (read-only) file the way a careless job might; return the old text."""
    old = path.read_text()
    os.chmod(path, 0o644)
    path.write_text(text)
    return old


def _run_isolated(python: str, workdir: Path, env: dict[str, str]) -> None:
    """Run job.py without site-packages: only the standard library is importable."""
    done = subprocess.run(
        [python, "-S", "-I", "job.py"],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _python39() -> list[str]:
    """A Python 3.9 interpreter if this machine has one (runtime.py promises 3.9+)."""
    candidates = [
        shutil.which("python3.9"),
        *glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return [candidate]
    return []


async def test_runtime_needs_only_the_standard_library(
    local_store: ArtifactStore, tmp_path: Path
) -> None:
    """The job side works in an interpreter without site-packages (``-S -I``)."""
    import jobrelay.runtime

    (tmp_path / "data.txt").write_text("hello")
    await local_store.put("dataset", tmp_path / "data.txt")
    workdir = tmp_path / "job"
    env = await prepare_inputs({"data": "dataset"}, local_store, workdir)
    shutil.copy(jobrelay.runtime.__file__, workdir / "jobrelay_runtime.py")
    script = (
        "import sys; sys.path.insert(0, '.')\n"
        "import jobrelay_runtime as rt\n"
        "open('o.txt', 'w').write(rt.input_path('data').read_text() + '!')\n"
        "rt.log_output('out', 'o.txt')\n"
    )
    (workdir / "job.py").write_text(script)
    for python in [sys.executable, *_python39()]:
        _run_isolated(python, workdir, env)

    outputs = await collect_outputs(outputs_dir(env), local_store, PRODUCER)
    fetched = await local_store.fetch(outputs["out"], tmp_path / "o.txt")
    assert fetched.read_text() == "hello!"
