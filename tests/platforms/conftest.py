"""The five built-in platforms as targets of the shipped contract kit
(``jobrelay_emulators.contract``).

Each target is one platform the kit's suite runs against unchanged; ``test_contract.py``
runs the kit, and the other tests here that take ``target`` run on every target too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobrelay import AsyncClient, JobSpec, PollPolicy
from jobrelay_emulators.contract import ContractTarget, cancel_and_close, counted_client
from jobrelay_emulators.local_home import stop_local_home
from jobrelay_emulators.wandb import WandbEmulator

# The suite's own name for a target (tests/platforms/test_records.py and friends import it).
Target = ContractTarget


def kill_local_agents(home: Path) -> None:
    """Stop every agent and job process a test's local home started."""
    stop_local_home(home)


async def local_target(tmp_path: Path) -> AsyncIterator[Target]:
    from jobrelay.platforms.registry import open_platform

    home = tmp_path / "home"
    platform = await open_platform(f"local://{home}", agent_idle_timeout=30)
    client, counting = counted_client(platform)
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
        yield Target(
            "local", client, counting, make_blocked_queue=blocked_queue, ordered_queue=ordered_queue
        )
    finally:
        kill_local_agents(home)


async def wandb_target(tmp_path: Path) -> AsyncIterator[Target]:
    """The W&B emulator on loopback; its simulated launch agent runs jobs on ``local``.
    Queues are held closed by holding the agent; W&B has no queue modes."""
    from jobrelay.platforms.registry import open_platform

    agent_home = tmp_path / "wandb-agent"
    emulator = WandbEmulator(agent_home=agent_home)
    await asyncio.to_thread(emulator.start)
    emulator.create_queue("default")
    platform = await open_platform(
        f"wandb://{emulator.entity}/contract?queue=default&image=python:3.11&host={emulator.url}",
        api_key=emulator.api_key,
    )
    client, counting = counted_client(platform, poll=PollPolicy(initial_s=0.05, max_s=0.3))
    queues = iter(range(1_000_000))

    async def blocked_queue() -> str:
        """A queue no agent serves: anything submitted stays QUEUED."""
        name = f"blocked{next(queues)}"
        emulator.create_queue(name)
        emulator.agent.hold(name)
        return name

    def slow_failing_status_query() -> None:
        """The emulator's own status query slow, failing and rate limited."""
        emulator.faults.add("JobStatuses", "slow", delay_s=1.0, times=None)
        emulator.faults.add("JobStatuses", status=500, times=3)
        emulator.faults.add("JobStatuses", status=429, retry_after=0.5, times=2)

    try:
        yield Target(
            "wandb",
            client,
            counting,
            make_blocked_queue=blocked_queue,
            inject_status_faults=slow_failing_status_query,
            extra={"emulator": emulator},
        )
    finally:
        await asyncio.to_thread(emulator.stop)
        kill_local_agents(agent_home)


async def ray_target(tmp_path: Path) -> AsyncIterator[Target]:
    """A real Ray head on loopback (one per session). Ray has no named queues, and a job it
    cannot schedule stays PENDING after a stop, so the blocked-queue tests skip."""
    from .ray_cluster import shared_head

    client, counting = counted_client(await AsyncClient(shared_head().platform_url).platform())
    yield Target("ray", client, counting)


async def anyscale_target(tmp_path: Path) -> AsyncIterator[Target]:
    """The Anyscale emulator on loopback; its jobs run as local processes. Blocked queues are
    job queues held closed (no cluster comes up); ordered ones are job queues of each mode."""
    from jobrelay_emulators.anyscale import AnyscaleEmulator

    emulator = AnyscaleEmulator(workdir=tmp_path / "anyscale-jobs").start()
    opened = AsyncClient(f"anyscale://?host={emulator.url}", credential=emulator.token)
    client, counting = counted_client(
        await opened.platform(), poll=PollPolicy(initial_s=0.05, max_s=0.3)
    )
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
            make_blocked_queue=blocked_queue,
            ordered_queue=ordered_queue,
            state_reads=("status", "statuses", "_job"),
            extra={"anyscale_emulator": emulator},
        )
    finally:
        await asyncio.to_thread(emulator.stop)


SHELL_UDF = """
@fused.udf
def udf(command: str):
    import subprocess, sys

    sys.exit(subprocess.run(["sh", "-c", command]).returncode)
"""


def fused_spec(command: str, **fields: Any) -> JobSpec:
    """Fused runs UDFs, not shell commands: each contract job is a UDF that runs the
    suite's command in a shell on the batch instance (as a user's UDF may) and exits
    with its code."""
    config = {"code": SHELL_UDF, "parameters": {"command": command}}
    return JobSpec(entrypoint="udf", config=config, **fields)


async def fused_target(tmp_path: Path) -> AsyncIterator[Target]:
    """The Fused emulator on loopback; each UDF call runs as a local process. Fused has no
    queues, so the queue tests skip."""
    from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

    emulator = FusedEmulator(workdir=tmp_path / "fused-jobs").start()
    opened = AsyncClient(
        f"fused://?base_url={emulator.base_url}",
        credential=emulator.token,
        token_type=TOKEN_TYPE,
        artifacts=str(tmp_path / "fused-store"),
    )
    client, counting = counted_client(
        await opened.platform(), poll=PollPolicy(initial_s=0.05, max_s=0.3)
    )
    try:
        yield Target(
            "fused",
            client,
            counting,
            spec=fused_spec,
            state_reads=("status", "statuses", "_run"),
            extra={"fused_emulator": emulator},
        )
    finally:
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
async def contract_target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    """Each built-in platform, opened for one test (what the shipped kit asks of a suite)."""
    async for t in TARGETS[request.param](tmp_path):
        yield t


@pytest.fixture
async def target(contract_target: Target) -> AsyncIterator[Target]:
    """Each built-in platform for the tests here that are not the kit's; what a test left
    running is cancelled after it, as the kit does."""
    try:
        yield contract_target
    finally:
        await cancel_and_close(contract_target.client)


FAST_POLL = PollPolicy(initial_s=0.02, max_s=0.1)
