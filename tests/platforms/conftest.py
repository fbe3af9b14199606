"""Targets of the platform contract suite.

Each target is one platform the suite runs against unchanged. Later platforms (Ray, the
W&B emulator, ...) add a target here; the tests in ``test_contract.py`` do not change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jobrelay import AsyncClient, JobRef, JobSpec, JobStatus, LogPage, PollPolicy
from jobrelay.platforms.base import Capabilities, Platform
from jobrelay_emulators.local_home import stop_local_home
from jobrelay_emulators.wandb import WandbEmulator


@dataclass
class Target:
    """One platform under contract test and what the suite needs to know about it."""

    name: str
    client: AsyncClient
    counting: CountingPlatform
    make_blocked_queue: Callable[[], Awaitable[str]] | None = None
    ordered_queue: Callable[[str, int], Awaitable[str]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The platform's methods that read a job's state (its status read in all but name).
    state_reads: tuple[str, ...] = ("status", "statuses")

    def spec(self, entrypoint: str, **fields: Any) -> JobSpec:
        return JobSpec(entrypoint=entrypoint, **fields)


class CountingPlatform:
    """Passes every call to the real platform and counts ``statuses()`` calls."""

    def __init__(self, inner: Platform) -> None:
        self.inner = inner
        self.name = inner.name
        self.url = inner.url
        self.capabilities: Capabilities = inner.capabilities
        self.status_calls: list[int] = []

    async def submit(self, spec: JobSpec) -> JobRef:
        return await self.inner.submit(spec)

    async def find(self, idempotency_key: str) -> JobRef | None:
        return await self.inner.find(idempotency_key)

    async def status(self, ref: JobRef) -> JobStatus:
        return await self.inner.status(ref)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        self.status_calls.append(len(refs))
        return await self.inner.statuses(refs)

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        return await self.inner.logs(ref, cursor, terminal=terminal)

    async def cancel(self, ref: JobRef) -> None:
        await self.inner.cancel(ref)

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        return await self.inner.list_jobs(limit=limit, queue=queue)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # queue admin and extras pass through
        return getattr(self.inner, name)


class SlowFailingStatus(CountingPlatform):
    """Every status call takes ``delay_s``, and every other one then fails with a 503
    (as a platform does when it is overloaded): what the log contract must survive."""

    def __init__(self, inner: Platform, delay_s: float = 0.3) -> None:
        super().__init__(inner)
        self.delay_s = delay_s
        self.calls = 0

    async def _slow_and_flaky(self) -> None:
        from jobrelay.errors import ServerError

        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.calls % 2:
            raise ServerError("get status failed with HTTP 503: injected", status_code=503)

    async def status(self, ref: JobRef) -> JobStatus:
        await self._slow_and_flaky()
        return await self.inner.status(ref)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        await self._slow_and_flaky()
        return await super().statuses(refs)


async def cancel_and_close(client: AsyncClient) -> None:
    """Cancel what a test left running on the target, then close its client."""
    for status in await client.list_jobs(limit=1000):
        if status.state.is_active:
            await client.cancel(status.ref)
    await client.aclose()


def kill_local_agents(home: Path) -> None:
    """Stop every agent and job process a test's local home started."""
    stop_local_home(home)


async def local_target(tmp_path: Path) -> AsyncIterator[Target]:
    from jobrelay.platforms.registry import open_platform

    home = tmp_path / "home"
    platform = await open_platform(f"local://{home}", agent_idle_timeout=30)
    counting = CountingPlatform(platform)
    client = AsyncClient(counting)  # type: ignore[arg-type]
    queues = iter(range(1_000_000))

    async def blocked_queue() -> str:
        """A queue of concurrency 1 held by a long job: anything submitted stays QUEUED."""
        name = f"blocked{next(queues)}"
        await client.create_queue(name, max_concurrency=1)
        await client.submit(JobSpec(entrypoint="sleep 30", queue=name, name="blocker"))
        return name

    async def ordered_queue(mode: str, concurrency: int) -> str:
        name = f"{mode.lower()}{next(queues)}"
        await client.create_queue(name, max_concurrency=concurrency, mode=mode)
        return name

    try:
        yield Target("local", client, counting, blocked_queue, ordered_queue)
    finally:
        await cancel_and_close(client)
        kill_local_agents(home)


async def wandb_target(tmp_path: Path) -> AsyncIterator[Target]:
    """The W&B emulator on loopback; its simulated launch agent runs jobs on ``local``."""
    import asyncio

    from jobrelay.platforms.registry import open_platform
    from jobrelay_emulators.wandb import WandbEmulator

    agent_home = tmp_path / "wandb-agent"
    emulator = WandbEmulator(agent_home=agent_home)
    await asyncio.to_thread(emulator.start)
    emulator.create_queue("default")
    platform = await open_platform(
        f"wandb://{emulator.entity}/contract?queue=default&image=python:3.11&host={emulator.url}",
        api_key=emulator.api_key,
    )
    counting = CountingPlatform(platform)
    client = AsyncClient(counting, poll=PollPolicy(initial_s=0.05, max_s=0.3))  # type: ignore[arg-type]
    queues = iter(range(1_000_000))

    async def blocked_queue() -> str:
        """A queue no agent serves: anything submitted stays QUEUED."""
        name = f"blocked{next(queues)}"
        emulator.create_queue(name)
        emulator.agent.hold(name)
        return name

    try:
        yield Target("wandb", client, counting, blocked_queue, None, {"emulator": emulator})
    finally:
        await cancel_and_close(client)
        await asyncio.to_thread(emulator.stop)
        kill_local_agents(agent_home)


async def ray_target(tmp_path: Path) -> AsyncIterator[Target]:
    """A real Ray head on loopback (one per session). Ray has no named queues, and a job it
    cannot schedule stays PENDING after a stop, so the blocked-queue tests skip."""
    from .ray_cluster import shared_head

    client = AsyncClient(shared_head().platform_url)
    counting = CountingPlatform(await client.platform())
    client = AsyncClient(counting)  # type: ignore[arg-type]
    try:
        yield Target("ray", client, counting)
    finally:
        await cancel_and_close(client)


async def anyscale_target(tmp_path: Path) -> AsyncIterator[Target]:
    """The Anyscale emulator on loopback; its jobs run as local processes. Blocked queues are
    job queues held closed (no cluster comes up); ordered ones are job queues of each mode."""
    from jobrelay_emulators.anyscale import AnyscaleEmulator

    emulator = AnyscaleEmulator(workdir=tmp_path / "anyscale-jobs").start()
    client = AsyncClient(f"anyscale://?host={emulator.url}", credential=emulator.token)
    counting = CountingPlatform(await client.platform())
    client = AsyncClient(counting, poll=PollPolicy(initial_s=0.05, max_s=0.3))  # type: ignore[arg-type]
    queues = iter(range(1_000_000))

    async def blocked_queue() -> str:
        name = f"blocked{next(queues)}"
        emulator.create_queue(name)
        emulator.hold(name)
        return name

    async def ordered_queue(mode: str, concurrency: int) -> str:
        name = f"{mode.lower()}{next(queues)}"
        emulator.create_queue(name, max_concurrency=concurrency, execution_mode=mode)
        return name

    try:
        yield Target(
            "anyscale",
            client,
            counting,
            blocked_queue,
            ordered_queue,
            {"anyscale_emulator": emulator},
            state_reads=("status", "statuses", "_job"),
        )
    finally:
        await cancel_and_close(client)
        await asyncio.to_thread(emulator.stop)


SHELL_UDF = """
@fused.udf
def udf(command: str):
    import subprocess, sys

    sys.exit(subprocess.run(["sh", "-c", command]).returncode)
"""


@dataclass
class FusedTarget(Target):
    """Fused runs UDFs, not shell commands: each contract job is a UDF that runs the
    suite's command in a shell on the batch instance (as a user's UDF may) and exits
    with its code."""

    def spec(self, entrypoint: str, **fields: Any) -> JobSpec:
        config = {"code": SHELL_UDF, "parameters": {"command": entrypoint}}
        return JobSpec(entrypoint="udf", config=config, **fields)


async def fused_target(tmp_path: Path) -> AsyncIterator[Target]:
    """The Fused emulator on loopback; each UDF call runs as a local process. Fused has no
    queues, so the queue tests skip."""
    from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

    emulator = FusedEmulator(workdir=tmp_path / "fused-jobs").start()
    client = AsyncClient(
        f"fused://?base_url={emulator.base_url}",
        credential=emulator.token,
        token_type=TOKEN_TYPE,
        artifacts=str(tmp_path / "fused-store"),
    )
    counting = CountingPlatform(await client.platform())
    client = AsyncClient(counting, poll=PollPolicy(initial_s=0.05, max_s=0.3))  # type: ignore[arg-type]
    try:
        yield FusedTarget(
            "fused",
            client,
            counting,
            extra={"fused_emulator": emulator},
            state_reads=("status", "statuses", "_run"),
        )
    finally:
        await cancel_and_close(client)
        await asyncio.to_thread(emulator.stop)


TARGETS = {
    "local": local_target,
    "wandb": wandb_target,
    "ray": ray_target,
    "anyscale": anyscale_target,
    "fused": fused_target,
}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[WandbEmulator]:
    """The W&B emulator on loopback with a ``default`` queue; its agent's jobs stopped after."""
    emu = WandbEmulator(agent_home=tmp_path / "agent")
    emu.start()
    emu.create_queue("default")
    try:
        yield emu
    finally:
        emu.stop()
        kill_local_agents(tmp_path / "agent")


@pytest.fixture(params=sorted(TARGETS))
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    async for t in TARGETS[request.param](tmp_path):
        yield t


FAST_POLL = PollPolicy(initial_s=0.02, max_s=0.1)
