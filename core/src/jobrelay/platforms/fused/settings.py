"""``fused://`` settings: the options a user gives, their defaults and where the
environment fills them in; :func:`~jobrelay.platforms.settings.load_settings` parses them."""

from __future__ import annotations

from pydantic import field_validator

from jobrelay.errors import ConfigError
from jobrelay.platforms.settings import HttpPlatformSettings, platform_host

__all__ = ["DEFAULT_BASE_URL", "TOKEN_ENV", "TOKEN_TYPES", "TOKEN_TYPE_ENV", "FusedSettings"]

TOKEN_ENV = "FUSED_AUTH_TOKEN"
TOKEN_TYPE_ENV = "FUSED_AUTH_TOKEN_TYPE"
DEFAULT_BASE_URL = "https://www.fused.io/server/v1"
TOKEN_TYPES = ("Bearer", "Fused-Env-Bearer", "Fused-Rtenv-Bearer", "Fused-Service-Token")


class FusedSettings(HttpPlatformSettings):
    """``fused://`` options: ``base_url`` (default ``https://www.fused.io/server/v1``) and
    ``token_type`` (the ``Authorization`` scheme: ``Bearer`` for a user token, or one of the
    headless ``Fused-Env-Bearer``, ``Fused-Rtenv-Bearer``, ``Fused-Service-Token``), plus the
    shared HTTP options. The credential comes from ``credential=`` or ``$FUSED_AUTH_TOKEN``,
    the type from ``$FUSED_AUTH_TOKEN_TYPE``."""

    platform_name = "Fused"
    credential_env = (TOKEN_ENV,)
    address_option = "base_url"
    env_options = {"token_type": TOKEN_TYPE_ENV}

    base_url: str = DEFAULT_BASE_URL
    token_type: str = "Bearer"

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        try:
            platform_host(value)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("host: ")) from None
        return value.rstrip("/")

    @field_validator("token_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in TOKEN_TYPES:
            raise ValueError(f"must be one of {', '.join(TOKEN_TYPES)}")
        return value
