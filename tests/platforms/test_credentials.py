"""Credentials (issue 26): the documented aliases work beside the environment, and a
credential's text shows in no error, repr or log line, whatever URL part or settings field
it was put in (by mistake: a key pasted as the queue name, into the URL's path, ...).
"""

from __future__ import annotations

import base64
import logging
import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, JobSpec
from jobrelay.errors import JobRelayError
from jobrelay.platforms import settings_model

from .conftest import Target

KEY = "k" * 40
HYPOTHESIS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Recording(httpx.AsyncBaseTransport):
    """Records each request's Authorization header and answers 503 to all."""

    def __init__(self) -> None:
        self.auth: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.auth.append(request.headers.get("authorization", ""))
        return httpx.Response(503, text="recording transport")


@pytest.mark.parametrize(
    ("url", "alias", "variable", "header"),
    [
        ("wandb://team/vision?host=http://127.0.0.1:9", "api_key", "WANDB_API_KEY", "basic"),
        ("ray://127.0.0.1:9", "token", "RAY_AUTH_TOKEN", "bearer"),
        ("ray://127.0.0.1:9", "token", "JOBRELAY_RAY_TOKEN", "bearer"),
    ],
)
async def test_the_credential_alias_wins_over_the_environment(
    url: str, alias: str, variable: str, header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `api_key=` (W&B) and `token=` (Ray) were "not an option" when the variable was set.
    given, from_env = "g" * 40, "e" * 40
    monkeypatch.setenv(variable, from_env)
    for options, expected in (({alias: given}, given), ({}, from_env)):
        recording = Recording()
        async with AsyncClient(url, transport=recording, retries=1, **options) as client:
            with pytest.raises(JobRelayError):
                await client.list_jobs(limit=1)
        sent = f"api:{expected}" if header == "basic" else expected
        if header == "basic":
            sent = base64.b64encode(sent.encode()).decode()
        assert recording.auth
        assert all(auth.lower() == f"{header} {sent}".lower() for auth in recording.auth)


# -- a credential in any other place --------------------------------------------------------

SCHEMES = {
    "ray": ("ray", "127.0.0.1:9", "", {}),
    "wandb": ("wandb", "team", "/vision", {"host": "http://127.0.0.1:9", "queue": "q"}),
    "anyscale": ("anyscale", "", "", {"host": "http://127.0.0.1:9"}),
    "fused": ("fused", "", "", {"base_url": "http://127.0.0.1:9/server/v1"}),
}
_SKIP = {"credential", "timeout", "retries", "retry_timeout", "verify"}


def placements(scheme: str, secret: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, url, options) with ``secret`` as the credential and also in one other place:
    a job's queue, the URL's host, path, a path's tail, and each text option (in the URL's
    query and as a keyword)."""
    name, host, path, query = SCHEMES[scheme]

    def url(h: str = host, p: str = path, q: dict[str, str] = query) -> str:
        text = "&".join(f"{k}={v}" for k, v in q.items())
        return f"{name}://{h}{p}" + (f"?{text}" if text else "")

    yield "a job's queue", url(), {}  # the submit below names it as its queue
    yield "host", url(h=f"{secret}.example:9" if scheme == "ray" else secret), {}
    yield "path", url(p=f"/{secret}"), {}
    yield "path-tail", url(p=f"{path or '/p'}/{secret}"), {}
    fields = settings_model(scheme).model_fields
    for option, info in sorted(fields.items()):
        if option in _SKIP or info.annotation not in (str, str | None):
            continue
        yield f"query:{option}", url(q={**query, option: secret}), {}
        yield (
            f"option:{option}",
            url(q={k: v for k, v in query.items() if k != option}),
            {option: secret},
        )


# A credential as issued: a fixed prefix and random letters and digits. Hypothesis also
# draws string literals it finds in the source, and a "secret" equal to a class name
# ('AnyscalePlatform') shows in the repr it is in without any leak.
secrets_ = st.text(string.ascii_letters + string.digits, min_size=13, max_size=37).map(
    lambda body: f"sk7{body}"
)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@HYPOTHESIS
@given(secret=secrets_)
async def test_a_credential_put_in_any_url_part_or_setting_shows_nowhere(
    scheme: str, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for where, url, options in placements(scheme, secret):
        caplog.clear()
        seen: list[str] = []
        try:
            async with AsyncClient(url, credential=secret, retries=1, **options) as client:
                seen += [repr(client)]
                platform = await client.platform()
                seen += [repr(platform), str(platform), platform.url]
                try:  # an unreachable platform: the errors a user would read
                    await client.list_jobs(limit=1)
                except JobRelayError as exc:
                    seen += [str(exc), repr(exc)]
                try:
                    await client.submit(JobSpec(entrypoint="udf", queue=secret))
                except JobRelayError as exc:
                    seen += [str(exc), repr(exc)]
        except JobRelayError as exc:
            seen += [str(exc), repr(exc)]
        seen += [record.getMessage() for record in caplog.records]
        leaked = [text for text in seen if secret in text]
        assert leaked == [], f"{scheme}: the credential put in {where} shows in {leaked[:2]}"


async def test_a_credential_used_as_a_jobs_queue_shows_in_no_error(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    # The platforms answer for real (emulators): their errors quote the queue they lack.
    emulator = next(
        (
            target.extra[k]
            for k in ("emulator", "anyscale_emulator", "fused_emulator")
            if k in target.extra
        ),
        None,
    )
    if emulator is None:
        pytest.skip(f"the {target.name} target takes no credential")
    secret = getattr(emulator, "api_key", None) or emulator.token
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    try:
        ref = await target.client.submit(target.spec("echo hi", queue=secret))
        await target.client.cancel(ref)
    except JobRelayError as exc:
        seen += [str(exc), repr(exc)]
    seen += [record.getMessage() for record in caplog.records]
    assert seen, "neither an error nor a log line"
    assert [text for text in seen if secret in text] == []
