"""The settings contract and the capability check, the same on every platform.

* An unknown or mistyped option is ``ConfigError(field=<option>)``, as a keyword or in the URL.
* A credential, wherever it was put (URL user info, URL query, option, environment), never
  shows in a repr, a str, an exception, a log line (every logger at DEBUG) or CLI output.
* A ``JobSpec`` field the platform cannot honour is a ``ConfigError`` naming it, and the
  platform saw no request (a counting transport; the local platform's job list).
"""

from __future__ import annotations

import logging
import string
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError, JobSpec
from jobrelay.errors import JobRelayError
from jobrelay.platforms import open_platform, platform_settings, settings_model

SCHEMES = {
    "local": "local:///tmp/jobrelay-settings-contract",
    "ray": "ray://127.0.0.1:9",
    "wandb": "wandb://team/vision?host=http://127.0.0.1:9",
    "anyscale": "anyscale://?host=http://127.0.0.1:9",
    "fused": "fused://?base_url=http://127.0.0.1:9/server/v1",
}
CREDENTIAL_ENV = {
    "ray": "JOBRELAY_RAY_TOKEN",
    "wandb": "WANDB_API_KEY",
    "anyscale": "ANYSCALE_CLI_TOKEN",
    "fused": "FUSED_AUTH_TOKEN",
}
KEY = "k" * 40  # a W&B key of the right shape, for tests about something else
HYPOTHESIS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Counting(httpx.AsyncBaseTransport):
    """Counts every request and answers none: a test that sends one has already failed."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url}")
        return httpx.Response(503, text="counting transport")


def base_options(scheme: str) -> dict[str, Any]:
    return {"credential": KEY} if scheme in ("wandb", "anyscale", "fused") else {}


option_names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=20).filter(
    lambda name: not name.startswith("_")
)


@pytest.mark.parametrize("scheme", SCHEMES)
@HYPOTHESIS
@given(name=option_names)
def test_an_unknown_option_names_itself_as_keyword_and_in_the_url(scheme: str, name: str) -> None:
    model = settings_model(scheme)
    aliases = {"token", "api_key", "autostart_agent", "agent_idle_timeout"}
    if name in model.model_fields or name in aliases:
        return
    with pytest.raises(ConfigError) as as_keyword:
        platform_settings(SCHEMES[scheme], **base_options(scheme), **{name: "1"})
    assert as_keyword.value.field == name
    assert f"not an option of the {model.platform_name} platform" in str(as_keyword.value)
    separator = "&" if "?" in SCHEMES[scheme] else "?"
    with pytest.raises(ConfigError) as in_url:
        platform_settings(f"{SCHEMES[scheme]}{separator}{name}=1", **base_options(scheme))
    assert in_url.value.field == name


@pytest.mark.parametrize(
    ("scheme", "option", "value"),
    [
        ("local", "idle_timeout", "soon"),
        ("local", "idle_timeout", -1),
        ("local", "autostart", "maybe"),
        ("ray", "timeout", "nan"),
        ("ray", "timeout", 0),
        ("ray", "verify", "/no/such/ca.pem"),
        ("ray", "retries", 0),
        ("ray", "artifacts", "bucket/jobs"),
        ("wandb", "timeout", "inf"),
        ("wandb", "retry_timeout", -5),
        ("wandb", "verify", [1]),
        ("fused", "token_type", "Basic"),
        ("fused", "base_url", "ftp://fused.example/server/v1"),
        ("fused", "timeout", 0),
    ],
)
async def test_a_mistyped_option_names_itself_on_every_platform(
    scheme: str, option: str, value: object
) -> None:
    with pytest.raises(ConfigError) as info:
        await open_platform(SCHEMES[scheme], **base_options(scheme), **{option: value})
    assert info.value.field == option
    assert repr(value) not in str(info.value) or isinstance(value, int)


async def test_wandb_takes_verify_and_timeout_like_every_http_platform() -> None:
    platform = await open_platform(SCHEMES["wandb"], credential=KEY, verify=False, timeout=30)
    try:
        session = platform.api.api.client  # type: ignore[attr-defined]
        assert session.timeout.read == 30
    finally:
        await platform.aclose()


@dataclass
class Leak:
    """Everything a user could see of one attempt with a credential."""

    texts: list[str]

    def holds(self, secret: str) -> bool:
        return any(secret in text for text in self.texts)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


secrets_ = st.text(string.ascii_letters + string.digits, min_size=16, max_size=40)


def placements(
    scheme: str, secret: str
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(where, url, options, env) for each of the four places a credential can go."""
    url = SCHEMES[scheme]
    head, _, rest = url.partition("://")
    separator = "&" if "?" in url else "?"
    yield "userinfo", f"{head}://{secret}@{rest}", {}, {}
    yield "query", f"{url}{separator}credential={secret}", {}, {}
    yield "option", url, {"credential": secret}, {}
    if scheme in CREDENTIAL_ENV:
        yield "env", url, {}, {CREDENTIAL_ENV[scheme]: secret}


@pytest.mark.parametrize("scheme", ["ray", "wandb"])
@HYPOTHESIS
@given(secret=secrets_)
async def test_a_credential_never_shows_wherever_it_was_put(
    scheme: str,
    secret: str,
    debug_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for where, url, options, env in placements(scheme, secret):
        debug_logs.clear()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        seen: list[str] = []
        try:
            async with AsyncClient(url, retries=1, **options) as client:
                platform = await client.platform()
                seen += [repr(platform), str(platform), repr(client), platform.url]
                try:  # an unreachable platform: the error a user would read
                    await client.list_jobs(limit=1)
                except JobRelayError as exc:
                    seen += [str(exc), repr(exc)]
        except ConfigError as exc:  # a credential in the URL is refused, unquoted
            refused = where
            seen += [str(exc), repr(exc)]
        else:
            refused = None
        assert refused in (None, "userinfo", "query"), f"{where} was refused"
        if where in ("userinfo", "query"):
            assert refused == where, f"a credential in the {where} was accepted"
        seen += [record.getMessage() for record in debug_logs.records]
        assert not Leak(seen).holds(secret), f"{scheme} credential in the {where} leaked"
        for name in env:
            monkeypatch.delenv(name)


@pytest.mark.parametrize("scheme", ["ray", "wandb"])
def test_a_credential_in_the_url_never_reaches_cli_output(scheme: str) -> None:
    secret = "Zq9secretTokenValue77"
    for where, url, _, _ in placements(scheme, secret):
        if where not in ("userinfo", "query"):
            continue
        done = subprocess.run(
            [sys.executable, "-m", "jobrelay", "ls", "--platform", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert secret not in done.stdout + done.stderr, where
        assert "credential" in done.stderr


# -- capabilities -------------------------------------------------------------------------

# What each platform cannot honour, as JobSpec fields with a value that asks for it.
UNHONOURED: dict[str, dict[str, Any]] = {
    "local": {"resources": {"CPU": 2}, "config": {"runtime_env": {}}},
    "ray": {
        "queue": "gpu",
        "priority": 5,
        "timeout_s": 60,
        "max_retries": 2,
        "config": {"docker_image": "python:3.11"},
    },
    "wandb": {
        "env": {"A": "1"},
        "working_dir": ".",
        "timeout_s": 60,
        "max_retries": 1,
        "resources": {"GPU": 1},
        "tags": {"team": "vision"},
        "config": {"docker_image": "python:3.11", "runtime_env": {}},
    },
    "anyscale": {"resources": {"GPU": 1}, "config": {"runtime_env": {}}},
    "fused": {
        "queue": "gpu",
        "priority": 5,
        "working_dir": ".",
        "timeout_s": 60,
        "max_retries": 1,
        "resources": {"CPU": 2},
        "config": {"code": "def udf(): pass", "runtime_env": {}},
    },
}


def config_field(spec_field: str, value: Any, base: dict[str, Any]) -> str:
    if spec_field != "config":
        return spec_field
    return f"config.{sorted(set(value) - set(base.get('config', {})))[0]}"


@pytest.mark.parametrize("scheme", SCHEMES)
@HYPOTHESIS
@given(data=st.data(), keyed=st.booleans())
async def test_a_field_the_platform_cannot_honour_is_refused_before_any_request(
    scheme: str, data: st.DataObject, keyed: bool, tmp_path: Path
) -> None:
    base: dict[str, Any] = {"entrypoint": "echo hi"}
    if scheme == "wandb":
        base["config"] = {"docker_image": "python:3.11"}
    if scheme == "fused":
        base = {"entrypoint": "udf", "config": {"code": "def udf(): pass"}}
    field = data.draw(st.sampled_from(sorted(UNHONOURED[scheme])))
    value = UNHONOURED[scheme][field]
    spec = JobSpec(**{**base, field: value}, idempotency_key="contract-key" if keyed else None)
    counting = Counting()
    url = f"local://{tmp_path}/home?autostart=0" if scheme == "local" else SCHEMES[scheme]
    options = {} if scheme == "local" else {"transport": counting, **base_options(scheme)}
    async with AsyncClient(url, **options) as client:
        with pytest.raises(ConfigError) as info:
            await client.submit(spec)
        assert info.value.field == config_field(field, value, base)
        assert (await client.platform()).name in str(info.value)
        if scheme == "local":
            assert await client.list_jobs() == []
    assert counting.requests == []


async def test_inputs_for_a_platform_with_no_reachable_store_are_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JOBRELAY_ARTIFACTS", raising=False)
    counting = Counting()
    async with AsyncClient(SCHEMES["ray"], transport=counting) as client:
        with pytest.raises(ConfigError) as info:
            await client.submit(
                JobSpec(entrypoint="true", inputs={"data": "data:latest"}, idempotency_key="k")
            )
    assert info.value.field == "inputs.data"
    assert "artifacts" in str(info.value)
    assert counting.requests == []
