"""The ``wandb`` platform: W&B Launch run queues, queued runs, runs and artifacts.

``wandb://ENTITY/PROJECT?queue=NAME`` (``host=URL`` for a self-hosted server or the emulator,
``image=`` for a default docker image, ``resource=`` for the launch resource). The API key
comes from ``credential=`` (or ``api_key=``) or ``$WANDB_API_KEY`` and is sent as Basic
``api:<key>`` to the server's host only.

>>> platform = await open_platform("wandb://team/vision?queue=gpu")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import httpx

from jobrelay.http import RetryPolicy
from jobrelay.platforms.wandb.artifacts import WandbArtifactStore, open_store
from jobrelay.platforms.wandb.platform import WandbPlatform
from jobrelay.platforms.wandb.settings import WandbSettings, WandbTarget, resolve_target
from jobrelay.platforms.wandb.transport import WandbTransport

__all__ = [
    "WandbArtifactStore",
    "WandbPlatform",
    "WandbSettings",
    "WandbTarget",
    "WandbTransport",
    "open_platform",
    "open_store",
    "resolve_target",
]


async def open_platform(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> WandbPlatform:
    """Open the W&B platform a ``wandb://`` URL names. No network call is made here.

    ``options`` are :class:`WandbSettings`. Raises ``ConfigError`` for a malformed URL, an
    unknown option or a missing API key.
    """
    api = WandbTransport(resolve_target(url, **options), transport=transport, retry=retry)
    return WandbPlatform(api)
