"""``examples/wandb_sdk/run_offline.py`` runs as its docstring says: one command, offline."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "wandb_sdk" / "run_offline.py"


async def test_the_wandb_sdk_example_trains_on_wandb_and_evaluates_locally(tmp_path: Path) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("trained: finished, model wandb://") for line in lines)
    assert "metrics: loss 0.1135" in lines  # 5 epochs at lr 0.3 (the launch config), not 3 at 0.1
    assert "evaluate: evaluated model: weight 1.6639, error 0.3361" in lines
