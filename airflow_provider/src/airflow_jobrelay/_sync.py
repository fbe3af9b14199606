"""Run core calls from a worker, which has no event loop of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from jobrelay import AsyncClient

    from airflow_jobrelay.hooks import JobRelayHook

__all__ = ["run_with_client"]

T = TypeVar("T")


def run_with_client(
    hook: JobRelayHook, conn: Connection, fn: Callable[[AsyncClient], Awaitable[T]]
) -> T:
    """``fn(client)`` on a fresh event loop with a client opened for ``conn``, then closed.

    Opening first makes a broken connection fail here with ``JobRelayConnectionError``.
    """

    async def main() -> T:
        client = hook.client_from_connection(conn)
        try:
            await hook.open_client(client)
            return await fn(client)
        finally:
            await client.aclose()

    return asyncio.run(main())
