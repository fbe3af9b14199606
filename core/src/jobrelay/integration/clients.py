"""One opened client per process, event loop and settings.

An orchestrator runs many waits at once on one loop (an Airflow triggerer, a Prefect
worker's flow run with many tasks, a Dagster step with several assets). When they share a
client they share its status hub, so N waiting jobs on a platform cost one status call per
tick, not N. A client and its hub belong to the loop they were opened on, so clients are
kept per loop and dropped with it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any

from pydantic import SecretStr

from jobrelay.client import AsyncClient
from jobrelay.errors import ConfigError
from jobrelay.urls import parse_platform_url

__all__ = ["CREDENTIAL_OPTIONS", "client_options", "shared_client"]

# Every platform takes its credential as ``credential`` (some also under an older name).
CREDENTIAL_OPTIONS = frozenset({"credential", "token", "api_key"})

_CLIENTS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[Hashable, asyncio.Future[AsyncClient]]
] = weakref.WeakKeyDictionary()


async def shared_client(
    key: Hashable, make: Callable[[], AsyncClient | Awaitable[AsyncClient]]
) -> AsyncClient:
    """The opened client for ``key`` on this event loop, made by ``make()`` the first time.

    ``key`` identifies the settings (an Airflow connection id and poll settings, a Prefect
    block's document id ...). Concurrent first calls open one client. When opening fails
    (a bad setting, an unreachable platform) the error is raised to every caller waiting on
    it and the next call tries again.
    """
    per_loop = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    future = per_loop.get(key)
    if future is None:
        future = per_loop[key] = asyncio.get_running_loop().create_future()
        try:
            made = make()
            client = made if isinstance(made, AsyncClient) else await made
            await client.platform()
        except BaseException as exc:
            del per_loop[key]
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters (if any) get it through their await
            raise
        future.set_result(client)
        return client
    return await asyncio.shield(future)


def client_options(
    platform: str, credential: SecretStr | None, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The keyword options of ``AsyncClient(platform, **options)`` for an adapter's
    settings: a URL, a credential kept apart (secret-typed), and plain options.

    A credential given inside ``options`` is refused (``ConfigError`` naming
    ``options.NAME``): options are stored and shown in clear, the credential is not. A
    credential for a platform that takes none (``local``) is refused too.
    """
    found = dict(options or {})
    for name in found:
        if name in CREDENTIAL_OPTIONS:
            raise ConfigError(
                "a credential does not go in the options (they are stored in clear); "
                "set the credential field instead",
                field=f"options.{name}",
            )
    if credential is None or not credential.get_secret_value():
        return found
    # A platform that takes none (local) refuses it when it opens, naming ``credential``;
    # not looked up here, which would import the platform's module on the caller's loop.
    parse_platform_url(platform)
    found["credential"] = credential
    return found
