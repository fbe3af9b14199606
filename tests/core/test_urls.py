"""Platform URLs: malformed ones are a ConfigError naming `platform`, before any I/O."""

from __future__ import annotations

import pytest
from jobrelay import ConfigError
from jobrelay.platforms.registry import open_platform
from jobrelay.urls import parse_platform_url, resolve_platform_url


@pytest.mark.parametrize(
    "url", ["", "local", "://x", "no scheme", "1ray://h", "ray://host:99999", "ray://h\0"]
)
def test_malformed_platform_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_platform_url(url)
    assert info.value.field == "platform"


async def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown platform scheme 'nope'.*local://"):
        await open_platform("nope://x")


def test_platform_url_comes_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBRELAY_PLATFORM", "ray://127.0.0.1:8265")
    assert resolve_platform_url("local://") == "local://"
    assert resolve_platform_url(None) == "ray://127.0.0.1:8265"
    monkeypatch.delenv("JOBRELAY_PLATFORM")
    assert resolve_platform_url(None) == "local://"
