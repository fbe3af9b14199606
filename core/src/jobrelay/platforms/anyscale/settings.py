"""``anyscale://`` settings: the options a user gives, their defaults and where the
environment fills them in; :func:`~jobrelay.platforms.settings.load_settings` parses them."""

from __future__ import annotations

from pydantic import field_validator

from jobrelay.platforms.settings import HttpPlatformSettings, platform_host

__all__ = ["DEFAULT_HOST", "HOST_ENV", "TOKEN_ENV", "AnyscaleSettings"]

TOKEN_ENV = "ANYSCALE_CLI_TOKEN"
HOST_ENV = "ANYSCALE_HOST"
DEFAULT_HOST = "https://console.anyscale.com"


class AnyscaleSettings(HttpPlatformSettings):
    """``anyscale://`` options: ``host`` (default the Anyscale console), the default
    ``cloud``, ``project``, ``compute_config`` (``name[:version]`` or a ``cpt_`` id) and
    ``image`` (an image URI or a ``bld_`` build id), plus the shared HTTP options. The
    credential comes from ``credential=`` or ``$ANYSCALE_CLI_TOKEN``; the host, when the
    URL and the options name none, from ``$ANYSCALE_HOST`` (as the official SDK reads it)."""

    platform_name = "Anyscale"
    credential_env = (TOKEN_ENV,)
    env_options = {"host": HOST_ENV}
    address_option = "host"

    host: str = DEFAULT_HOST
    cloud: str | None = None
    project: str | None = None
    compute_config: str | None = None
    image: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        platform_host(value)
        return value.rstrip("/")
