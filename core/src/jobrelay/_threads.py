"""Thread helpers: run blocking calls off the event loop, and coroutines from sync code."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio.to_thread

__all__ = ["run_blocking", "run_to_completion"]

T = TypeVar("T")


async def run_blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call in a worker thread so the event loop stays responsive."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


def run_to_completion(make: Callable[[], Coroutine[Any, Any, T]], *, thread_name: str) -> T:
    """Run a coroutine to the end from synchronous code, even inside a running loop.

    Inside a running loop the coroutine runs on a new loop in a thread named
    ``thread_name``; its result or exception is handed back to the caller.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=target, name=thread_name)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
