"""``$ANYSCALE_HOST``, as the official SDK reads it: what the emulator's banner tells a user
to export. With only ``ANYSCALE_HOST`` and ``ANYSCALE_CLI_TOKEN`` set, ``anyscale://``
reaches that host (it used to dial the public console, and fail after 26 s of retries)."""

from __future__ import annotations

import pytest
from jobrelay import AsyncClient, JobSpec, JobState, PollPolicy
from jobrelay.errors import ConfigError
from jobrelay.platforms.anyscale import AnyscaleSettings
from jobrelay.platforms.settings import load_settings
from jobrelay_emulators.anyscale import AnyscaleEmulator

pytestmark = pytest.mark.timeout(60)
FAST = PollPolicy(initial_s=0.05, max_s=0.2)


@pytest.fixture
def sdk_env(anyscale: AnyscaleEmulator, monkeypatch: pytest.MonkeyPatch) -> AnyscaleEmulator:
    """The environment the emulator's banner prints, and nothing else of ours."""
    monkeypatch.setenv("ANYSCALE_HOST", anyscale.url)
    monkeypatch.setenv("ANYSCALE_CLI_TOKEN", anyscale.token)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return anyscale


async def test_a_job_submitted_with_only_the_sdk_variables_runs_on_that_host(
    sdk_env: AnyscaleEmulator,
) -> None:
    # One attempt per request: dialling the wrong host must fail the test, not retry.
    async with AsyncClient("anyscale://", poll=FAST, retries=1) as client:
        result = await client.run(JobSpec(entrypoint="echo from-the-env-host"))
        lines = [line.text for line in await client.tail_logs(result.ref)]
    assert result.state is JobState.SUCCEEDED
    assert [job.id for job in sdk_env.world.jobs.values()] == [result.ref.id]
    assert "from-the-env-host" in lines
    # The job's ref names the host, so another process finds the job without the variable.
    assert result.ref.platform == f"anyscale://?host={sdk_env.url}"


async def test_a_host_in_the_url_wins_over_the_variable(
    sdk_env: AnyscaleEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYSCALE_HOST", "http://127.0.0.1:9")  # nothing listens there
    async with AsyncClient(f"anyscale://?host={sdk_env.url}", poll=FAST, retries=1) as client:
        ref = await client.submit(JobSpec(entrypoint="true"))
    assert ref.id in sdk_env.world.jobs


def test_a_malformed_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYSCALE_HOST", "console.example.com")  # no scheme
    with pytest.raises(ConfigError) as info:
        load_settings(AnyscaleSettings, "anyscale://", {})
    assert info.value.field == "host"
