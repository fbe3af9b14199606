"""A job's input keeps the name it was stored under (``scores.csv``, ``table.parquet/``), so
a loader that chooses a format by suffix works: on the local platform (the verified blob,
linked, not copied) and on a hosted one (the Anyscale emulator over HTTP on loopback, whose
jobs fetch their inputs from its job store)."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, PollPolicy
from jobrelay.artifacts import open_store, prepare_inputs, stage
from jobrelay.artifacts.base import ArtifactStore, local_file_name
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.models import ArtifactRef

from tests.platforms.conftest import kill_local_agents

# The kind of loader that fails on a digest-named blob: the suffix says the format.
LOADER = """
import csv, json, sys
from pathlib import Path
from jobrelay import runtime

def load(path):
    if path.suffix == ".csv":
        return list(csv.DictReader(path.open()))
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".parquet" and path.is_dir():  # a partitioned table: one file a part
        return sorted(p.name for p in path.iterdir())
    raise SystemExit(f"cannot tell the format of {path.name!r}")

for name in sys.argv[1:]:
    path = runtime.input_path(name)
    print(name, path.name, path.is_file(), json.dumps(load(path), sort_keys=True))
"""

EXPECTED = [
    'scores scores.csv True [{"id": "1", "score": "0.5"}, {"id": "2", "score": "0.9"}]',
    'config settings.json True {"lr": 0.1}',
    'table table.parquet False ["part-0", "part-1"]',
]


async def put_inputs(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "scores.csv").write_text("id,score\n1,0.5\n2,0.9\n")
    (source / "settings.json").write_text('{"lr": 0.1}')
    (source / "table.parquet").mkdir()
    for part in ("part-0", "part-1"):
        (source / "table.parquet" / part).write_bytes(b"PAR1")
    await store.put("scores", source / "scores.csv")
    await store.put("config", source / "settings.json")
    await store.put("table", source / "table.parquet")


def loader_job() -> JobSpec:
    return JobSpec(
        entrypoint=[sys.executable, "-c", LOADER, "scores", "config", "table"],
        inputs={"scores": "scores:latest", "config": "config", "table": "table"},
    )


@pytest.fixture
async def local_client(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    home = tmp_path / "home"
    async with AsyncClient(f"local://{home}", poll=PollPolicy(initial_s=0.05, max_s=0.3)) as c:
        yield c
    kill_local_agents(home)


async def test_a_suffix_loader_reads_the_inputs_of_a_local_job(
    local_client: AsyncClient, tmp_path: Path
) -> None:
    await put_inputs(await local_client.artifact_store(), tmp_path)
    result = await local_client.run(loader_job())
    lines = [line.text for line in await local_client.tail_logs(result.ref)]
    assert lines == EXPECTED


@pytest.mark.slow  # the emulator's job start: about 12 s on 2 busy cores
async def test_a_suffix_loader_reads_the_inputs_of_a_hosted_job(tmp_path: Path) -> None:
    from jobrelay_emulators.anyscale import AnyscaleEmulator

    emulator = AnyscaleEmulator(workdir=tmp_path / "anyscale-jobs").start()
    try:
        async with AsyncClient(
            f"anyscale://?host={emulator.url}",
            credential=emulator.token,
            artifacts=f"file://{tmp_path / 'job-store'}",
            poll=PollPolicy(initial_s=0.05, max_s=0.3),
        ) as client:
            await put_inputs(await client.artifact_store(), tmp_path)
            result = await client.run(loader_job())
            lines = [line.text for line in await client.tail_logs(result.ref)]
    finally:
        emulator.stop()
    assert lines == EXPECTED


async def test_a_local_input_is_the_verified_blob_under_its_file_name_not_a_copy(
    local_store: LocalArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    ref = await local_store.put("dataset", tmp_path / "data.csv")
    assert ref.file_name == "data.csv"

    env = await prepare_inputs({"data": ref}, local_store, tmp_path / "job")
    path = Path(json.loads(env["JOBRELAY_INPUTS"])["data"]["path"])

    assert path == (tmp_path / "job" / "inputs" / "data" / "data.csv").absolute()
    blob = await local_store.verified_local_path(ref)
    assert blob is not None
    assert path.samefile(blob)  # a link to the blob: no copy of the bytes


async def test_a_staged_version_keeps_its_file_name(
    local_store: LocalArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "weights.pt").write_bytes(b"\x00" * 100)
    ref = await local_store.put("model", tmp_path / "weights.pt")
    other = open_store(f"file://{tmp_path / 'other'}")
    staged = await stage(ref, local_store, other)
    assert staged.file_name == "weights.pt"
    fetched = await prepare_inputs({"m": staged}, other, tmp_path / "job")
    assert json.loads(fetched["JOBRELAY_INPUTS"])["m"]["path"].endswith("/m/weights.pt")


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("data.csv", "data.csv"),
        (None, "data"),  # stored before file names were recorded, or by W&B
        ("", "data"),
        ("..", "data"),
        ("../../etc/passwd", "data"),  # a ref from JSON may carry anything
        ("a\\b.csv", "data"),
        ("x" * 256, "data"),
    ],
)
def test_only_a_safe_file_name_is_used_for_the_local_copy(
    file_name: str | None, expected: str
) -> None:
    ref = ArtifactRef(
        uri="file:///s#d:v1",
        name="d",
        version="v1",
        digest="sha256:0",
        size=0,
        file_name=file_name,
    )
    assert local_file_name(ref, "data") == expected
