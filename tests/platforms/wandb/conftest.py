"""Fixtures for the W&B platform tests: the emulator on loopback and clients pointed at it.

The emulator speaks the wire format documented in ``reference/wandb.md``; nothing here
talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from jobrelay.http import RetryPolicy
from jobrelay.platforms.wandb import WandbArtifactStore, WandbPlatform, open_platform, open_store
from jobrelay_emulators.wandb import WandbEmulator

FAST_RETRY = RetryPolicy(attempts=5, timeout_s=20.0, wait_initial_s=0.05, wait_max_s=0.5)


def platform_url(emu: WandbEmulator, project: str = "proj", **query: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"wandb://{emu.entity}/{project}?queue=default&host={emu.url}{extra}"


@pytest.fixture
async def platform(emulator: WandbEmulator) -> AsyncIterator[WandbPlatform]:
    p = await open_platform(
        platform_url(emulator, image="python:3.11"), api_key=emulator.api_key, retry=FAST_RETRY
    )
    try:
        yield p
    finally:
        await p.aclose()


@pytest.fixture
async def store(emulator: WandbEmulator) -> AsyncIterator[WandbArtifactStore]:
    s = open_store(
        f"wandb://{emulator.entity}/proj?host={emulator.url}",
        api_key=emulator.api_key,
        retry=FAST_RETRY,
    )
    try:
        yield s
    finally:
        await s.aclose()


async def eventually(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never became true")
