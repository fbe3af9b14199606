"""Fused result files reach the client through the core's handoff: the platform reports them,
the handoff stores them once per job, a status read downloads nothing, and past the
handoff's memory a job's outputs come back the same (against the emulator over loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from jobrelay import AsyncClient, JobSpec, JobState, PollPolicy
from jobrelay.artifacts.base import check_name
from jobrelay.platforms.fused import FusedPlatform, open_platform
from jobrelay.platforms.fused.payloads import result_files
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

from .conftest import FAST_RETRY, SQUARE

pytestmark = pytest.mark.timeout(180)
FAST = PollPolicy(initial_s=0.05, max_s=0.2)


def squares(*inputs: int) -> JobSpec:
    return JobSpec(entrypoint="udf", config={"code": SQUARE, "inputs": list(inputs)})


async def test_results_are_stored_once_whoever_asks_and_a_status_read_downloads_none(
    fused: FusedEmulator, platform: FusedPlatform, tmp_path: Path
) -> None:
    client = AsyncClient(platform, poll=FAST)  # type: ignore[arg-type]
    done = await client.run(squares(1, 2, 3))
    assert done.state is JobState.SUCCEEDED
    assert sorted(done.outputs) == ["0.json", "1.json", "2.json"]
    store = await client.artifact_store()
    for i in range(3):
        ref = done.outputs[f"{i}.json"]
        fetched = await store.fetch(ref, tmp_path / f"{i}.json")
        assert json.loads(fetched.read_bytes()) == {"x": i + 1, "square": (i + 1) ** 2}
        assert ref.producer == done.ref
        assert ref.metadata["fused_job"] == done.ref.id
        assert json.loads(ref.metadata["fused_metadata"])  # the sidecar, as a note
    listed = len(fused.calls("results"))
    files = len(fused.calls("file"))
    assert listed == 1
    assert files == len(fused.world.jobs[done.ref.id].results)  # each file once, no token

    # Asking again, in any way, downloads nothing and gives the same versions.
    assert (await client.result(done.ref)).outputs == done.outputs
    assert (await client.wait(done.ref)).outputs == done.outputs
    status = await platform.status(done.ref)
    assert status.state is JobState.SUCCEEDED
    assert status.outputs == {}  # the platform reports files; it stores nothing itself
    assert (len(fused.calls("results")), len(fused.calls("file"))) == (listed, files)
    assert [ref.qualified_name for ref in await store.list()] == sorted(
        ref.qualified_name for ref in done.outputs.values()
    )


async def test_past_the_handoffs_memory_a_job_is_collected_again_to_the_same_versions(
    fused: FusedEmulator, platform: FusedPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobrelay._handoff.COLLECTED_JOBS", 2)
    client = AsyncClient(platform, poll=FAST)  # type: ignore[arg-type]
    first, _, last = [await client.run(squares(k)) for k in (10, 20, 30)]
    assert len(fused.calls("results")) == 3

    again = await client.result(first.ref)  # forgotten (two jobs since): read and put again

    assert len(fused.calls("results")) == 4
    assert again.outputs == first.outputs  # the store keeps one version per content
    store = await client.artifact_store()
    assert len(await store.list()) == 3
    assert (await client.result(last.ref)).outputs == last.outputs  # remembered: no read
    assert len(fused.calls("results")) == 4


async def test_another_process_collects_the_same_versions(
    fused: FusedEmulator, platform: FusedPlatform, tmp_path: Path
) -> None:
    done = await AsyncClient(platform, poll=FAST).run(squares(5))  # type: ignore[arg-type]
    other = await open_platform(
        f"fused://?base_url={fused.base_url}",
        credential=fused.token,
        token_type=TOKEN_TYPE,
        artifacts=str(tmp_path / "store"),
        retry=FAST_RETRY,
    )
    async with AsyncClient(other, poll=FAST) as client:  # type: ignore[arg-type]
        assert (await client.result(done.ref)).outputs == done.outputs


names = hs.text(alphabet="abc./-_0", min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(files=hs.lists(names, max_size=8, unique=True), sidecars=hs.sets(names, max_size=4))
def test_result_files_report_each_file_once_with_its_sidecar_as_a_note(
    files: list[str], sidecars: set[str]
) -> None:
    listing = [{"name": n, "url": f"https://signed/{n}"} for n in files] + [
        {"name": f"{n}.metadata", "url": f"https://signed/{n}.metadata"} for n in sidecars
    ]
    reported = result_files("job-1", [*listing, {"name": "no-url"}, "junk"])
    expected = sorted({n for n in files if not n.endswith(".metadata")})
    assert [f.name for f in reported] == expected
    for f in reported:
        check_name(f.artifact)  # a name every store takes
        assert f.url == f"https://signed/{f.name}"
        assert f.metadata == {"fused_job": "job-1", "fused_result": f.name}
        has_sidecar = f.name in sidecars or f"{f.name}.metadata" in files
        assert f.notes == (
            {"fused_metadata": f"https://signed/{f.name}.metadata"} if has_sidecar else {}
        )
    assert result_files("job-1", None) == []
