"""What the kit needs to know about the platform under test: :class:`ContractTarget`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobrelay import AsyncClient, JobSpec, PollPolicy
from jobrelay.platforms import Platform

from .counting import CountingPlatform


class SpecBuilder(Protocol):
    """Builds the ``JobSpec`` that runs ``command`` (a POSIX shell string) on the platform,
    with the other ``JobSpec`` fields (``queue``, ``priority``, ``owner``,
    ``idempotency_key``) as given."""

    def __call__(self, command: str, **fields: Any) -> JobSpec: ...


def shell_spec(command: str, **fields: Any) -> JobSpec:
    """The spec of a platform whose entrypoint is a shell command:
    ``JobSpec(entrypoint=command, **fields)``."""
    return JobSpec(entrypoint=command, **fields)


@dataclass
class ContractTarget:
    """One platform under the contract kit and what it can and cannot do.

    Build one with :func:`counted_client` (the kit counts the platform's status calls)::

        client, counting = counted_client(platform)
        ContractTarget("mine", client, counting)

    :param name: the platform's name in skip messages and test ids.
    :param client: an ``AsyncClient`` over ``counting``.
    :param counting: the :class:`CountingPlatform` wrapping the platform under test.
    :param spec: builds the spec that runs a shell command (:data:`shell_spec` unless the
        platform's entrypoint is something else: wrap the command, as Fused wraps it in a UDF).
    :param make_blocked_queue: capability: creates a queue that starts nothing (its jobs stay
        ``QUEUED``) and returns its name. ``None``: the platform has no queue the kit can hold
        closed, and the queued-cancel and queue-timeout tests skip, saying so.
    :param ordered_queue: capability: ``ordered_queue(mode, max_concurrency)`` creates a
        queue of that mode (``"FIFO"``, ``"LIFO"`` or ``"PRIORITY"``) and concurrency and
        returns its name. ``None``: the platform has no queue modes, and the queue-order and
        max-concurrency tests skip.
    :param state_reads: the platform's methods that read a job's state (``status`` and
        ``statuses``, and any private read they share): the kit checks a log read calls
        none of them.
    :param inject_status_faults: called before the log-delivery test wraps status calls in
        slow failures: make the platform's own status endpoint slow and failing too (an
        emulator's fault injector), if it has one.
    :param extra: whatever the author's own tests on the same fixture need (an emulator,
        say); the kit reads nothing from it.
    """

    name: str
    client: AsyncClient
    counting: CountingPlatform
    spec: SpecBuilder = field(default=shell_spec)
    make_blocked_queue: Callable[[], Awaitable[str]] | None = None
    ordered_queue: Callable[[str, int], Awaitable[str]] | None = None
    state_reads: tuple[str, ...] = ("status", "statuses")
    inject_status_faults: Callable[[], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def counted_client(
    platform: Platform, *, poll: PollPolicy | None = None
) -> tuple[AsyncClient, CountingPlatform]:
    """An ``AsyncClient`` over ``platform`` wrapped in a :class:`CountingPlatform`, and the
    wrapper. ``poll`` overrides the platform's polling policy (a brisk one for emulators)."""
    counting = CountingPlatform(platform)
    return AsyncClient(counting, poll=poll), counting


async def cancel_and_close(client: AsyncClient) -> None:
    """Cancel what a test left running on the platform, then close the client."""
    for status in await client.list_jobs(limit=1000):
        if status.state.is_active:
            await client.cancel(status.ref)
    await client.aclose()
