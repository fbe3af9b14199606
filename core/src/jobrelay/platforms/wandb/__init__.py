"""The ``wandb`` platform: W&B Launch run queues, queued runs, runs and artifacts.

``wandb://ENTITY/PROJECT?queue=NAME`` (``host=URL`` for a self-hosted server or the emulator,
``image=`` for a default docker image, ``resource=`` for the launch resource). The API key
comes from ``api_key=`` or ``$WANDB_API_KEY`` and is sent as Basic ``api:<key>`` to the
server's host only.

>>> platform = await open_platform("wandb://team/vision?queue=gpu")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from jobrelay.http import RetryPolicy
from jobrelay.platforms.wandb.artifacts import WandbArtifactStore, open_store
from jobrelay.platforms.wandb.config import WandbSettings, resolve_settings
from jobrelay.platforms.wandb.platform import WandbPlatform

__all__ = [
    "WandbArtifactStore",
    "WandbPlatform",
    "WandbSettings",
    "open_platform",
    "open_store",
    "resolve_settings",
]


async def open_platform(
    url: str,
    *,
    api_key: str | SecretStr | None = None,
    host: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> WandbPlatform:
    """Open the W&B platform a ``wandb://`` URL names. No network call is made here.

    Raises ``ConfigError`` for a malformed URL, an unknown option or a missing API key.
    """
    if options:
        from jobrelay.errors import ConfigError

        raise ConfigError(
            f"unknown option(s) {', '.join(sorted(options))} for the wandb platform; use "
            "api_key=, host=, transport=, retry=",
            field="platform",
        )
    settings = resolve_settings(url, api_key=api_key, host=host)
    return WandbPlatform(settings, transport=transport, retry=retry)
