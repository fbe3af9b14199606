"""The environment the official Fused SDK reads for a headless client: ``FUSED_AUTH_TOKEN``
and ``FUSED_AUTH_TOKEN_TYPE``. The SDK has no variable for the API's address (it reads
``~/.fused/settings.toml``), and neither has jobrelay: ``fused://?base_url=`` names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec, JobState, PollPolicy
from jobrelay.platforms.fused import FusedSettings
from jobrelay.platforms.settings import load_settings
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

from .conftest import SQUARE

pytestmark = pytest.mark.timeout(60)


async def test_a_job_runs_with_the_token_and_its_type_from_the_sdks_variables(
    fused: FusedEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FUSED_AUTH_TOKEN", fused.token)
    monkeypatch.setenv("FUSED_AUTH_TOKEN_TYPE", TOKEN_TYPE)
    url = f"fused://?base_url={fused.base_url}"
    fast = PollPolicy(initial_s=0.05, max_s=0.2)
    store = str(tmp_path / "store")
    async with AsyncClient(url, poll=fast, retries=1, artifacts=store) as client:
        result = await client.run(JobSpec(entrypoint="udf", config={"code": SQUARE}))
    assert result.state is JobState.SUCCEEDED
    assert [job.id for job in fused.world.jobs.values()] == [result.ref.id]
    sent = {r.headers["authorization"] for r in fused.requests if r.operation != "file"}
    assert sent == {f"{TOKEN_TYPE} {fused.token}"}


def test_without_a_base_url_the_public_api_is_named_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FUSED_AUTH_TOKEN", "a-headless-token")
    settings = load_settings(FusedSettings, "fused://", {})
    assert settings.base_url == "https://www.fused.io/server/v1"
    assert settings.token_type == "Bearer"  # no FUSED_AUTH_TOKEN_TYPE: a user token
