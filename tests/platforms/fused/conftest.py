"""Fixtures for the Fused tests: the emulator on loopback and a platform pointed at it.

The emulator speaks the wire format of ``reference/fused.md`` and
``reference/sdk-measured.md`` §2; nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from jobrelay.http import RetryPolicy
from jobrelay.platforms.fused import FusedPlatform, open_platform
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

FAST_RETRY = RetryPolicy(attempts=5, timeout_s=20.0, wait_initial_s=0.05, wait_max_s=0.5)

SQUARE = """
@fused.udf
def udf(x: int = 2, offset: int = 0):
    print(f"squaring {x}")
    return {"x": x, "square": x * x + offset}
"""


@pytest.fixture
def fused(tmp_path: Path) -> Iterator[FusedEmulator]:
    emulator = FusedEmulator(workdir=tmp_path / "fused-jobs").start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
async def platform(fused: FusedEmulator, tmp_path: Path) -> AsyncIterator[FusedPlatform]:
    opened = await open_platform(
        f"fused://?base_url={fused.base_url}",
        credential=fused.token,
        token_type=TOKEN_TYPE,
        artifacts=str(tmp_path / "store"),
        retry=FAST_RETRY,
    )
    try:
        yield opened
    finally:
        await opened.aclose()
