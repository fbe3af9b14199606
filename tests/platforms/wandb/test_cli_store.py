"""``jobrelay artifacts --store wandb://…`` against the emulator: put, ls, show, get.

Run as a user runs it: the ``jobrelay`` command in a subprocess, the key in
``$WANDB_API_KEY``, the store named by ``--store`` and by ``$JOBRELAY_ARTIFACTS``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobrelay_emulators.wandb import WandbEmulator


def jobrelay(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobrelay", "artifacts", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_put_ls_show_get_through_a_wandb_store(emulator: WandbEmulator, tmp_path: Path) -> None:
    store = f"wandb://{emulator.entity}/proj?host={emulator.url}"
    env = {"WANDB_API_KEY": emulator.api_key}
    folder = tmp_path / "model"
    (folder / "nested").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(os.urandom(300_000))
    (folder / "nested" / "config.json").write_text('{"lr": 0.1}')

    put = jobrelay("put", "model", str(folder), "--alias", "best", "--store", store, env=env)
    assert put.returncode == 0, put.stderr
    assert put.stdout.startswith("model:v0")

    listed = jobrelay("ls", "--json", "--store", store, env=env)
    assert listed.returncode == 0, listed.stderr
    assert [(r["name"], r["version"]) for r in json.loads(listed.stdout)] == [("model", "v0")]

    # The same store from $JOBRELAY_ARTIFACTS, by its alias.
    shown = jobrelay("show", "model:best", env={**env, "JOBRELAY_ARTIFACTS": store})
    assert shown.returncode == 0, shown.stderr
    assert "model:v0" in shown.stdout

    got = jobrelay("get", "model:best", str(tmp_path / "copy"), "--store", store, env=env)
    assert got.returncode == 0, got.stderr
    copied = tmp_path / "copy"
    assert (copied / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()
    assert (copied / "nested" / "config.json").read_text() == '{"lr": 0.1}'
    for done in (put, listed, shown, got):
        assert emulator.api_key not in done.stdout + done.stderr


def test_a_wandb_store_without_a_key_is_one_line_naming_the_setting(
    emulator: WandbEmulator, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobrelay",
            "artifacts",
            "ls",
            "--store",
            f"wandb://{emulator.entity}/proj?host={emulator.url}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    assert "WANDB_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr
    assert "wandbfs" not in done.stderr
