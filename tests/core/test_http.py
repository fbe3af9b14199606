"""The HTTP policy: what is retried, what is not, Retry-After, and where credentials go."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from jobrelay.errors import APIError, AuthError, NotFoundError, ServerError, TransportError
from jobrelay.http import HostBoundAuth, HttpSession, RetryPolicy
from pydantic import SecretStr

FAST = RetryPolicy(attempts=5, timeout_s=10, wait_initial_s=0.01, wait_max_s=0.02, wait_jitter_s=0)
TOKEN = SecretStr("tok-very-secret")


def session(handler: Callable[[httpx.Request], httpx.Response]) -> HttpSession:
    return HttpSession(
        "http://platform.test",
        auth=HostBoundAuth("platform.test", SecretStr(f"Bearer {TOKEN.get_secret_value()}")),
        retry=FAST,
        transport=httpx.MockTransport(handler),
        secrets=[TOKEN],
    )


def scripted(
    *responses: httpx.Response | Exception,
) -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return seen, handler


async def test_5xx_and_resets_on_reads_are_retried_until_success() -> None:
    seen, handler = scripted(
        httpx.Response(503, text="busy"),
        httpx.ConnectError("connection reset"),
        httpx.Response(502),
        httpx.Response(200, json={"ok": True}),
    )
    s = session(handler)
    assert await s.json("GET", "/api/jobs/", operation="list jobs") == {"ok": True}
    assert len(seen) == 4


async def test_429_waits_for_retry_after() -> None:
    seen, handler = scripted(
        httpx.Response(429, headers={"Retry-After": "0.3"}), httpx.Response(200, json=[])
    )
    started = time.monotonic()
    await session(handler).json("GET", "/x", operation="list")
    assert time.monotonic() - started >= 0.3
    assert len(seen) == 2


async def test_4xx_is_not_retried_and_carries_the_platform_message() -> None:
    seen, handler = scripted(
        httpx.Response(400, text="Traceback ...\nTypeError: entrypoint must be a string")
    )
    with pytest.raises(APIError) as info:
        await session(handler).request("POST", "/api/jobs/", operation="submit job")
    assert len(seen) == 1
    assert info.value.status_code == 400
    assert "submit job failed with HTTP 400: TypeError: entrypoint must be a string" in str(
        info.value
    )


async def test_non_idempotent_post_is_not_retried_on_5xx() -> None:
    seen, handler = scripted(httpx.Response(500, text="boom"))
    with pytest.raises(ServerError):
        await session(handler).request("POST", "/api/jobs/", operation="submit job")
    assert len(seen) == 1


async def test_post_marked_idempotent_is_retried() -> None:
    seen, handler = scripted(httpx.Response(503), httpx.Response(200, json={}))
    await session(handler).request("POST", "/x", operation="op", idempotent=True)
    assert len(seen) == 2


async def test_status_codes_map_to_typed_errors() -> None:
    _, handler = scripted(httpx.Response(404, text="Job nope does not exist"))
    with pytest.raises(NotFoundError, match="Job nope does not exist"):
        await session(handler).request("GET", "/api/jobs/nope", operation="get job")
    _, handler = scripted(httpx.Response(401, json={"message": "bad token"}))
    with pytest.raises(AuthError, match="bad token"):
        await session(handler).request("GET", "/x", operation="get")


async def test_exhausted_transport_errors_become_transport_error_without_secrets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused (token {TOKEN.get_secret_value()})")

    with pytest.raises(TransportError) as info:
        await session(handler).request("GET", "/x", operation="get")
    assert TOKEN.get_secret_value() not in str(info.value)
    assert "**********" in str(info.value)


async def test_credentials_only_go_to_the_platform_host() -> None:
    seen, handler = scripted(httpx.Response(200), httpx.Response(200))
    s = session(handler)
    await s.request("GET", "/x", operation="platform call")
    await s.request("GET", "https://storage.test/presigned?sig=1", operation="download")
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN.get_secret_value()}"
    assert "Authorization" not in seen[1].headers


def test_auth_repr_hides_the_secret() -> None:
    auth = HostBoundAuth("h", SecretStr("Bearer abc123"))
    assert "abc123" not in repr(auth)


async def test_retries_go_to_logging_not_to_the_terminal(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    seen, handler = scripted(
        httpx.Response(503), httpx.Response(429), httpx.Response(200, json={"ok": True})
    )
    with caplog.at_level("INFO", logger="jobrelay.http"):
        await session(handler).request("GET", "/x", operation="read thing")
    assert len(seen) == 3
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # stamina's default warnings would print here
    retries = [r.getMessage() for r in caplog.records if r.name == "jobrelay.http"]
    assert len(retries) == 2
    assert all(m.startswith("retrying ") for m in retries)


async def test_an_html_page_is_named_as_such_not_quoted_as_its_last_tag() -> None:
    page = "<!DOCTYPE html>\n<html><head><title>Not Implemented</title></head>\n<body/>\n</html>"
    _, handler = scripted(httpx.Response(501, text=page, headers={"Content-Type": "text/html"}))
    with pytest.raises(APIError) as raised:
        await session(handler).request("GET", "/api/jobs/", operation="list Ray jobs")
    assert "</html>" not in str(raised.value)
    assert "HTML page titled 'Not Implemented'" in str(raised.value)


async def test_an_unreachable_platform_names_its_host_and_port() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = HttpSession(f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError, match=f"could not reach 127.0.0.1:{port}"):
        await closed.request("GET", "/", operation="probe")
    await closed.aclose()
