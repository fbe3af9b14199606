"""``local://`` settings: the options a user gives (:class:`LocalSettings`) and the home
directory a URL names (:func:`resolve_home`)."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator

from jobrelay.errors import ConfigError
from jobrelay.platforms.settings import PlatformSettings
from jobrelay.urls import default_local_home, parse_platform_url, redact_url

__all__ = ["LocalSettings", "resolve_home"]


class LocalSettings(PlatformSettings):
    """``local://`` options: ``autostart`` (alias ``autostart_agent``) and ``idle_timeout``
    (alias ``agent_idle_timeout``), in the URL's query or as keywords."""

    platform_name = "local"

    autostart: bool = Field(
        default=True, validation_alias=AliasChoices("autostart", "autostart_agent")
    )
    idle_timeout: float = Field(
        default=30.0, validation_alias=AliasChoices("idle_timeout", "agent_idle_timeout")
    )

    @field_validator("idle_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError("must be a positive number of seconds")
        return value


def resolve_home(url: str) -> Path:
    """The home directory a ``local://`` URL names.

    Raises ``ConfigError(field="platform")`` for a host part (``local://foo``).
    """
    parsed = parse_platform_url(url)
    if parsed.base_scheme != "local":
        raise ConfigError(f"{redact_url(url)!r} is not a local:// URL", field="platform")
    if parsed.netloc:
        raise ConfigError(
            f"{redact_url(url)!r} has a host part; the local platform takes a path: use "
            "local:///absolute/path (three slashes) or local:// for the default home",
            field="platform",
        )
    home = Path(parsed.path).resolve() if parsed.path not in ("", "/") else default_local_home()
    return home.absolute()
