"""A long-lived Ray client keeps only the latest few packed working dirs: a submit that
reattaches to its key packs in its check and never sends, and its zip must not stay in
memory for the life of a triggerer (against the session's real Ray head)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, JobState
from jobrelay.platforms.ray import open_platform
from jobrelay.platforms.ray.platform import PACKED_SPECS, RayPlatform

from .conftest import Recorder

pytestmark = pytest.mark.timeout(180)


def project(root: Path, token: str) -> str:
    root.mkdir(parents=True)
    (root / "token.txt").write_text(f"token={token}\n")
    return str(root)


async def test_checks_never_followed_by_a_submit_keep_only_the_latest_packages(
    tmp_path: Path,
) -> None:
    platform = await open_platform("ray://127.0.0.1:9")  # nothing is sent: packing is local
    try:
        specs = [
            JobSpec(entrypoint="cat token.txt", working_dir=project(tmp_path / f"p{k}", str(k)))
            for k in range(3 * PACKED_SPECS)
        ]
        for spec in specs:
            await platform.check_spec(spec)
            assert len(platform._packed) <= PACKED_SPECS
        # The latest check's packages serve its submit; a forgotten spec is packed again,
        # to the same package (its name is its content's digest).
        latest, _ = platform._packed[id(specs[-1])][1]
        assert (await platform._packages(specs[-1]))[0] is latest
        packed_first, _ = await platform._packages(specs[0])
        again, _ = await platform._pack(specs[0])
        assert packed_first is not None
        assert again is not None
        assert packed_first.name == again.name
    finally:
        await platform.aclose()


@pytest.mark.slow
async def test_reattaching_submits_keep_at_most_the_cap_and_a_new_job_still_gets_its_dir(
    client: AsyncClient, recorder: Recorder, tmp_path: Path
) -> None:
    platform = await client.platform()
    assert isinstance(platform, RayPlatform)
    key = f"packed-{uuid.uuid4().hex[:8]}"
    spec = JobSpec(
        entrypoint="cat token.txt",
        working_dir=project(tmp_path / "keyed", "keyed"),
        idempotency_key=key,
    )
    first = await client.submit(spec)
    posted = recorder.count("POST", "/api/jobs/")
    retried = [spec.model_copy(deep=True) for _ in range(3 * PACKED_SPECS)]
    for each in retried:  # a retried task building its spec anew each time
        again = await client.submit(each)
        assert again.id == first.id
        assert again.reattached
    assert len(platform._packed) <= PACKED_SPECS
    assert recorder.count("POST", "/api/jobs/") == posted  # the reattaches sent no job

    token = uuid.uuid4().hex
    fresh = await client.run(
        JobSpec(entrypoint="cat token.txt", working_dir=project(tmp_path / "fresh", token))
    )
    assert fresh.state is JobState.SUCCEEDED
    assert f"token={token}" in [line.text for line in await client.tail_logs(fresh.ref, n=20)]
    assert (await client.wait(first)).state is JobState.SUCCEEDED
