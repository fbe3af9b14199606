"""Running a script that uses the official wandb SDK against the emulator, in a subprocess.

The SDK (0.31, with its wandb-core sidecar) gets the emulator's URL and key and keeps every
file it writes under the test's ``tmp_path``. A script prints ``RESULT <json>`` as its last
word; :func:`run_sdk` returns that value or fails the test with the script's output.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from jobrelay_emulators.wandb import WandbEmulator


def sdk_env(emulator: WandbEmulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an SDK process pointed at ``emulator`` (no other ``WANDB_*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_BASE_URL=emulator.url,
        WANDB_API_KEY=emulator.api_key,
        WANDB_ENTITY=emulator.entity,
        WANDB_SILENT="true",
        WANDB_DIR=str(tmp_path / "wandb-dir"),
        WANDB_CACHE_DIR=str(tmp_path / "wandb-cache"),
        WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"),
        WANDB_DATA_DIR=str(tmp_path / "wandb-data"),
        WANDB_ARTIFACT_DIR=str(tmp_path / "wandb-artifacts"),
        WANDB_ERROR_REPORTING="false",
        WANDB_DISABLE_CODE="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


async def run_sdk(
    script: str,
    *args: str,
    env: dict[str, str],
    timeout: float = 150,
) -> dict[str, Any]:
    """Run ``script`` with ``args``; the JSON it printed after ``RESULT``."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    output = f"({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"SDK script failed {output}"
    assert lines, f"SDK script printed no RESULT {output}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def refused(emulator: WandbEmulator) -> list[tuple[str, list[str]]]:
    """GraphQL requests the emulator answered with errors: (operation, messages)."""
    return [(r.operation, r.errors) for r in emulator.requests if r.errors]


def operations_listed(note: Path) -> set[str]:
    """Operation names in the first column of the note's table."""
    names = set()
    for line in note.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0].startswith("`"):
            names.add(cells[0].strip("`"))
    return names


def sdk_operations(emulator: WandbEmulator) -> set[str]:
    """Names of the GraphQL operations the wandb SDK sent (not jobrelay's own)."""
    return {r.operation for r in emulator.requests if not r.user_agent.startswith("jobrelay")}
