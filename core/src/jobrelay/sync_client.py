"""``Client``: the synchronous facade over :class:`jobrelay.client.AsyncClient`; every call
runs the async client on a private event loop (no logic of its own).

Each method is made from its ``AsyncClient`` counterpart (:func:`blocking`,
:func:`blocking_pages`): one signature and one docstring, which ``help()``, IDEs and
``mypy`` read from the async method. The hand-written ones differ in what they take or do
(``follow_logs`` takes a ``threading.Event``, ``run`` cancels on Ctrl-C, ``close``).
``tests/core/test_sync_client.py`` pins the parity.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, get_args

from anyio.from_thread import BlockingPortal, start_blocking_portal

from jobrelay._cancelling import CANCEL_DEADLINE_S, signals_held
from jobrelay.client import AsyncClient
from jobrelay.models import JobRef, LogPage

__all__ = ["Client", "blocking", "blocking_pages"]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

STOP_CHECK_S = 0.05  # how soon a follow sees the caller's stop event


def blocking(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[T]],
    *,
    interruptible: bool = False,
) -> Callable[Concatenate[Client, P], T]:
    """The ``Client`` method that runs ``AsyncClient.<method>`` on the client's loop and
    returns its result: the same parameters and docstring.

    ``interruptible``: an interrupt of the calling thread (Ctrl-C) cancels the call on the
    loop and waits for that cancel to finish (with further signals held back) before it
    propagates; what a call that cancels the job on the way out needs (``run``)."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async def on_the_loop() -> T:
            return await method(self.aio, *args, **kwargs)

        if not interruptible:
            return self._portal.call(on_the_loop)
        return self._call_interruptibly(on_the_loop)

    return _same_face(call, method)


def blocking_pages(
    method: Callable[Concatenate[AsyncClient, P], AsyncIterator[T]],
) -> Callable[Concatenate[Client, P], Iterator[T]]:
    """The ``Client`` method that gives ``AsyncClient.<method>``'s async iterator as a plain
    iterator (leaving it early closes the async one): the same parameters and docstring."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._iterate(method(self.aio, *args, **kwargs))

    return _same_face(call, method, pages=True)


def _same_face(call: F, method: Callable[..., Any], *, pages: bool = False) -> F:
    """``call`` dressed as ``method``: its name, docstring and signature (annotations
    evaluated, so ``typing.get_type_hints`` and ``help()`` need no imports here), with the
    return of the sync call: an async iterator's item type in a plain ``Iterator``."""
    signature = inspect.signature(method, eval_str=True)
    if pages:
        signature = signature.replace(
            return_annotation=Iterator[get_args(signature.return_annotation)]  # type: ignore[misc]
        )
    call.__name__ = method.__name__
    call.__qualname__ = f"Client.{method.__name__}"
    call.__module__ = __name__
    call.__doc__ = inspect.getdoc(method)
    call.__signature__ = signature  # type: ignore[attr-defined]
    call.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values() if p.name != "self"},
        "return": signature.return_annotation,
    }
    return call


class Client:
    """The synchronous facade: every call runs ``AsyncClient`` on a private event loop.

    >>> with Client("local://") as client:                     # doctest: +SKIP
    ...     client.run(JobSpec(entrypoint="echo hi")).state
    <JobState.SUCCEEDED: 'SUCCEEDED'>

    Every ``Client`` has a loop of its own, so by default its waiters share the process's
    status hub for its settings (``shared_hub``, see :class:`AsyncClient`): clients waiting
    on many threads cost one status call per tick, not one each. The objects it hands out
    (:meth:`platform`, :meth:`status_hub`, :meth:`artifact_store`) belong to that loop: use
    their plain attributes from any thread, their async methods through this client.
    Callbacks (``on_submit``, ``on_update``) run on the loop's thread.
    """

    def __init__(
        self, platform: str | None = None, *, shared_hub: bool = True, **options: Any
    ) -> None:
        self.aio = AsyncClient(platform, shared_hub=shared_hub, **options)
        self._portal_cm = start_blocking_portal("asyncio")
        self._portal: BlockingPortal = self._portal_cm.__enter__()
        self._closed = False

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Made from AsyncClient's methods: one definition of each (see the module's docstring).

    # -- the opened parts (objects of the client's own event loop) -----------------------
    platform = blocking(AsyncClient.platform)
    status_hub = blocking(AsyncClient.status_hub)
    artifact_store = blocking(AsyncClient.artifact_store)

    # -- submitting and observing ---------------------------------------------------------
    submit = blocking(AsyncClient.submit)
    status = blocking(AsyncClient.status)
    statuses = blocking(AsyncClient.statuses)
    list_jobs = blocking(AsyncClient.list_jobs)
    logs = blocking(AsyncClient.logs)
    read_logs = blocking_pages(AsyncClient.read_logs)

    def follow_logs(
        self, ref: JobRef, cursor: str | None = None, *, stop: threading.Event | None = None
    ) -> Iterator[LogPage]:
        """Pages of new lines until the job is terminal and its last line is read
        (:meth:`AsyncClient.follow_logs`). ``stop``, set from any thread, ends the stream
        early (after the page in flight)."""
        if stop is None:
            return self._iterate(self.aio.follow_logs(ref, cursor))
        return self._follow_until(ref, cursor, stop)

    def iter_logs(self, ref: JobRef, cursor: str | None = None) -> Iterator[LogPage]:
        """The earlier name of :meth:`follow_logs` (kept: code written for 0.1 calls it)."""
        return self.follow_logs(ref, cursor)

    tail_logs = blocking(AsyncClient.tail_logs)
    result = blocking(AsyncClient.result)

    # -- waiting --------------------------------------------------------------------------
    wait = blocking(AsyncClient.wait)
    run = blocking(AsyncClient.run, interruptible=True)  # Ctrl-C cancels the job first
    cancel = blocking(AsyncClient.cancel)

    # -- queues ---------------------------------------------------------------------------
    create_queue = blocking(AsyncClient.create_queue)
    list_queues = blocking(AsyncClient.list_queues)

    def close(self) -> None:
        """Close the platform's connections and the client's loop (:meth:`AsyncClient.aclose`);
        a second close does nothing (``close()`` inside a ``with`` block is fine)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self.aio.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    # -- plumbing -------------------------------------------------------------------------

    def _call_interruptibly(self, on_the_loop: Callable[[], Awaitable[T]]) -> T:
        ended = threading.Event()

        async def until_it_ends() -> T:
            try:
                return await on_the_loop()
            finally:
                ended.set()

        running = self._portal.start_task_soon(until_it_ends)
        try:
            return running.result()
        except BaseException:
            if not running.done():
                # The interrupt landed on this thread; the call goes on on the portal's.
                # Cancelling it there lets it clean up (AsyncClient.run cancels the job);
                # wait for that, with further signals held back.
                with signals_held():
                    running.cancel()
                    ended.wait(CANCEL_DEADLINE_S + 5)
            raise

    def _iterate(self, pages: AsyncIterator[T]) -> Iterator[T]:
        """The async generator as a plain iterator; leaving the loop early closes it."""
        with self._portal.wrap_async_context_manager(_aiter_cm(pages)) as it:
            while True:
                try:
                    yield self._portal.call(_anext, it)
                except StopAsyncIteration:
                    return

    def _follow_until(
        self, ref: JobRef, cursor: str | None, stop: threading.Event
    ) -> Iterator[LogPage]:
        # The async follower takes an asyncio.Event of its own loop: a watcher task there
        # sets it once the caller's threading.Event is set.
        stopped = self._portal.call(_new_event)
        watcher = self._portal.start_task_soon(_relay_event, stop, stopped)
        try:
            yield from self._iterate(self.aio.follow_logs(ref, cursor, stop=stopped))
        finally:
            watcher.cancel()


@contextlib.asynccontextmanager
async def _aiter_cm(gen: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    try:
        yield gen
    finally:
        aclose = getattr(gen, "aclose", None)
        if aclose is not None:
            await aclose()


async def _anext(it: AsyncIterator[T]) -> T:
    return await it.__anext__()


async def _new_event() -> asyncio.Event:
    return asyncio.Event()


async def _relay_event(source: threading.Event, target: asyncio.Event) -> None:
    # ``source`` is set on another thread, where no loop can be woken: polling it is the way
    # that leaves no thread blocked on an event that may never be set.
    while not source.is_set():  # noqa: ASYNC110
        await asyncio.sleep(STOP_CHECK_S)
    target.set()
