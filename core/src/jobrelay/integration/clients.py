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
from collections.abc import Awaitable, Callable, Hashable

from jobrelay.client import AsyncClient

__all__ = ["shared_client"]

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
