"""Fixtures for the Anyscale tests: the emulator on loopback and a platform pointed at it.

The emulator speaks the wire format of ``reference/anyscale.md`` and
``reference/sdk-measured.md``; nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from jobrelay.http import RetryPolicy
from jobrelay.platforms.anyscale import AnyscalePlatform, open_platform
from jobrelay_emulators.anyscale import AnyscaleEmulator

FAST_RETRY = RetryPolicy(attempts=5, timeout_s=20.0, wait_initial_s=0.05, wait_max_s=0.5)


@pytest.fixture
def anyscale(tmp_path: Path) -> Iterator[AnyscaleEmulator]:
    emulator = AnyscaleEmulator(workdir=tmp_path / "jobs").start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
async def platform(anyscale: AnyscaleEmulator) -> AsyncIterator[AnyscalePlatform]:
    opened = await open_platform(
        f"anyscale://?host={anyscale.url}", credential=anyscale.token, retry=FAST_RETRY
    )
    try:
        yield opened
    finally:
        await opened.aclose()
