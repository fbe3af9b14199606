"""``ray://`` settings: the shared HTTP options and where the environment fills in the
token; :func:`~jobrelay.platforms.settings.load_settings` parses them."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

from jobrelay.platforms.settings import HttpPlatformSettings

__all__ = ["RAY_TOKEN_ENV", "TOKEN_ENV", "RaySettings"]

TOKEN_ENV = "JOBRELAY_RAY_TOKEN"
RAY_TOKEN_ENV = "RAY_AUTH_TOKEN"  # Ray's own variable, used when ours is not set


class RaySettings(HttpPlatformSettings):
    """``ray://host:port`` options: the shared ones (``credential`` -- alias ``token`` --,
    ``timeout``, ``verify``, ``retries``, ``retry_timeout``, ``artifacts``)."""

    platform_name = "Ray"
    credential_env = (TOKEN_ENV, RAY_TOKEN_ENV)

    credential: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("credential", "token")
    )
