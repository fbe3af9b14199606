"""What Anyscale and Fused share, once: the opaque log cursor (``jobrelay.platforms._cursors``)
and the opener of their two HTTP sessions (``jobrelay.platforms._hosted``), the latter over
real HTTP on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay import ConfigError
from jobrelay.platforms._cursors import CursorValue, read_cursor, write_cursor
from jobrelay.platforms._hosted import open_hosted
from jobrelay.platforms.anyscale import payloads as anyscale
from jobrelay.platforms.anyscale.settings import AnyscaleSettings
from jobrelay.platforms.fused import payloads as fused
from jobrelay.platforms.fused.settings import FusedSettings
from jobrelay.platforms.settings import HttpPlatformSettings

PROPERTIES = settings(max_examples=60, deadline=None)
TYPES: dict[str, tuple[type, ...]] = {
    "count": (int,),
    "count or null": (int, type(None)),
    "text or null": (str, type(None)),
}
VALUES = {
    "count": st.integers(0, 2**53),
    "count or null": st.one_of(st.none(), st.integers(0, 2**53)),
    "text or null": st.one_of(st.none(), st.text(max_size=30)),
}
keys = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=3)


@st.composite
def shaped_fields(
    draw: st.DrawFn,
) -> tuple[dict[str, tuple[type, ...]], dict[str, CursorValue]]:
    kinds = draw(st.dictionaries(keys, st.sampled_from(sorted(TYPES)), min_size=1, max_size=5))
    shape = {key: TYPES[kind] for key, kind in kinds.items()}
    return shape, {key: draw(VALUES[kind]) for key, kind in kinds.items()}


@PROPERTIES
@given(shaped_fields())
def test_a_cursor_reads_back_as_the_fields_it_was_written_with(
    shaped: tuple[dict[str, tuple[type, ...]], dict[str, CursorValue]],
) -> None:
    shape, fields = shaped
    cursor = write_cursor(fields)
    assert cursor.isascii()
    assert not set(cursor) & set("/+ ")  # URL-safe
    assert read_cursor(cursor, shape, platform="P") == fields


@PROPERTIES
@given(shaped_fields(), shaped_fields())
def test_a_cursor_of_another_shape_is_refused_naming_the_platform(
    ours: tuple[dict[str, tuple[type, ...]], dict[str, CursorValue]],
    theirs: tuple[dict[str, tuple[type, ...]], dict[str, CursorValue]],
) -> None:
    shape, _ = ours
    _, foreign = theirs
    fits = set(foreign) == set(shape) and all(isinstance(foreign[k], shape[k]) for k in shape)
    cursor = write_cursor(foreign)
    if fits:
        assert read_cursor(cursor, shape, platform="Fused") == foreign
        return
    with pytest.raises(ConfigError) as info:
        read_cursor(cursor, shape, platform="Fused")
    assert info.value.field == "cursor"
    assert "Fused" in str(info.value)
    assert "None to read from the start" in str(info.value)


@PROPERTIES
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.hex())))
def test_any_text_is_a_position_or_a_config_error_never_another_error(text: str) -> None:
    outcome: object
    try:
        outcome = read_cursor(text, {"t": (int, type(None)), "s": (int,)}, platform="Fused")
    except ConfigError as exc:  # nothing else may escape
        outcome = exc.field
    assert outcome == "cursor" or isinstance(outcome, dict)


@pytest.mark.parametrize(
    "value",
    [-1, True, 1.5, "3", [1], {"n": 1}],
    ids=["negative", "bool", "float", "str", "list", "dict"],
)
def test_a_count_must_be_a_whole_number_not_below_zero(value: object) -> None:
    cursor = write_cursor({"n": value})  # type: ignore[dict-item]  # a forged cursor
    with pytest.raises(ConfigError, match="Anyscale"):
        read_cursor(cursor, {"n": (int,)}, platform="Anyscale")


def test_a_deeply_nested_forgery_is_a_config_error() -> None:
    import base64

    forged = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(ConfigError):
        read_cursor(forged, {"n": (int,)}, platform="Anyscale")


@PROPERTIES
@given(
    anyscale_at=st.builds(
        anyscale.LogCursor,
        run=st.integers(0, 99),
        page=st.one_of(st.none(), st.text(max_size=20)),
        chunk=st.integers(0, 999),
        lines=st.integers(0, 10_000),
    ),
    fused_at=st.builds(
        fused.LogCursor, ms=st.one_of(st.none(), st.integers(0, 2**45)), seen=st.integers(0, 99)
    ),
)
def test_each_platform_refuses_the_others_cursor(
    anyscale_at: anyscale.LogCursor, fused_at: fused.LogCursor
) -> None:
    # The two platforms' cursors round-trip through the shared encoder, and neither is
    # taken for a position by the other (one would read logs from a wrong place).
    assert anyscale.read_log_cursor(anyscale.write_log_cursor(anyscale_at)) == anyscale_at
    assert fused.read_log_cursor(fused.write_log_cursor(fused_at)) == fused_at
    with pytest.raises(ConfigError, match="Fused"):
        fused.read_log_cursor(anyscale.write_log_cursor(anyscale_at))
    with pytest.raises(ConfigError, match="Anyscale"):
        anyscale.read_log_cursor(fused.write_log_cursor(fused_at))


# -- the opener, over real HTTP on loopback ------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


SECRET = "Zq9hostedSecret0042"
CASES: list[tuple[type[HttpPlatformSettings], str, str, str]] = [
    # model, URL option, header, the value it must carry
    (AnyscaleSettings, "host", "cookie", f"cli_token={SECRET}"),
    (FusedSettings, "base_url", "authorization", f"Fused-Env-Bearer {SECRET}"),
]


@pytest.mark.parametrize(("model", "option", "header", "value"), CASES, ids=["anyscale", "fused"])
async def test_the_api_session_carries_the_credential_and_the_signed_one_does_not(
    recorder: tuple[str, list[dict[str, str]]],
    model: type[HttpPlatformSettings],
    option: str,
    header: str,
    value: str,
) -> None:
    address, seen = recorder
    options: dict[str, Any] = {option: address, "credential": SECRET}
    if model is FusedSettings:
        options["token_type"] = "Fused-Env-Bearer"
    scheme = "anyscale" if model is AnyscaleSettings else "fused"
    chosen, api, signed = open_hosted(
        model,
        f"{scheme}://",
        options,
        needs="a token",
        header="Cookie" if header == "cookie" else "Authorization",
        sends=lambda s, token: (
            f"cli_token={token}" if model is AnyscaleSettings else f"{s.token_type} {token}"  # type: ignore[attr-defined]
        ),
        headers={"X-Client": "test"},
    )
    try:
        assert getattr(chosen, option) == address
        await api.request("GET", "/api", operation="api read")
        await signed.request("GET", f"{address}/signed", operation="signed read")
    finally:
        await api.aclose()
        await signed.aclose()
    to_api, to_signed = seen
    assert to_api[header] == value
    assert to_api["x-client"] == "test"
    assert not any(SECRET in v for v in to_signed.values())


@pytest.mark.parametrize(
    ("model", "env", "hint"),
    [(AnyscaleSettings, "ANYSCALE_CLI_TOKEN", ""), (FusedSettings, "FUSED_AUTH_TOKEN", " (more)")],
)
def test_no_credential_is_a_config_error_naming_where_to_put_one(
    monkeypatch: pytest.MonkeyPatch, model: type[HttpPlatformSettings], env: str, hint: str
) -> None:
    monkeypatch.delenv(env, raising=False)
    scheme = "anyscale" if model is AnyscaleSettings else "fused"
    with pytest.raises(ConfigError) as info:
        open_hosted(model, f"{scheme}://", {}, needs="a key", hint=hint, sends=lambda s, t: t)
    assert info.value.field == "credential"
    assert str(info.value).endswith(
        f"{model.platform_name} needs a key: pass credential=... or set ${env}{hint}"
    )
