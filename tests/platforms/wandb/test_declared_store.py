"""The W&B platform declares its own store: ``wandb://`` opens wherever stores open, with
nothing imported first, and the stores layer names no platform."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobrelay.artifacts import LocalArtifactStore, known_store_schemes, open_store, registry
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.platforms.wandb import WandbArtifactStore
from jobrelay_emulators.wandb import WandbEmulator


def _store_url(emu: WandbEmulator) -> str:
    return f"wandb://{emu.entity}/proj?host={emu.url}"


def _env(emu: WandbEmulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "JOBRELAY_"))}
    return {**env, "WANDB_API_KEY": emu.api_key, **extra}


def test_a_fresh_process_opens_and_stages_a_wandb_store_importing_nothing_else(
    emulator: WandbEmulator, tmp_path: Path
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"trained weights " * 64)
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from jobrelay.artifacts import known_store_schemes, open_store, stage

        print("schemes", known_store_schemes())
        async def main():
            store = open_store({_store_url(emulator)!r})
            ref = await store.put("weights", Path({str(tmp_path / "weights.bin")!r}))
            await store.aclose()
            staged = await stage(ref.uri, {_store_url(emulator)!r}, {str(tmp_path / "local")!r})
            print("put", ref.uri, staged.qualified_name)
        asyncio.run(main())
        # Nothing above the stores layer was needed to open the W&B store.
        print("loaded", sorted(m for m in ("jobrelay.platforms.registry", "jobrelay.client")
                               if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_env(emulator),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "'wandb'" in lines[0]
    assert "'local'" in lines[0]
    assert lines[1].startswith(f"put wandb://{emulator.entity}/proj")
    assert lines[1].split()[-1].startswith("weights:v")
    assert lines[2] == "loaded []"
    # The version is really in the emulated W&B project, and its bytes reached the local store.
    staged = LocalArtifactStore(tmp_path / "local")
    assert (tmp_path / "weights.bin").read_bytes() == _read_latest(staged, tmp_path)


def _read_latest(store: LocalArtifactStore, tmp_path: Path) -> bytes:
    import asyncio

    async def go() -> bytes:
        ref = await store.resolve("weights:latest")
        path = await store.fetch(ref, tmp_path / "fetched.bin")
        return path.read_bytes()

    return asyncio.run(go())


@pytest.mark.slow
def test_the_cli_opens_wandb_stores_from_the_flag_and_the_environment(
    emulator: WandbEmulator, tmp_path: Path
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    cli = [sys.executable, "-m", "jobrelay", "artifacts"]
    put = subprocess.run(
        [*cli, "put", "dataset", str(tmp_path / "data.csv"), "--store", _store_url(emulator)],
        capture_output=True,
        text=True,
        env=_env(emulator),
        timeout=120,
    )
    assert put.returncode == 0, put.stderr
    listed = subprocess.run(
        [*cli, "ls"],
        capture_output=True,
        text=True,
        env=_env(emulator, JOBRELAY_ARTIFACTS=_store_url(emulator)),
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[0] == "dataset:v0"
    assert emulator.api_key not in put.stdout + put.stderr + listed.stdout + listed.stderr


async def test_the_declared_scheme_opens_the_wandb_store_and_a_registered_one_wins(
    emulator: WandbEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert {"local", "wandb"} <= set(known_store_schemes())
    store = open_store(_store_url(emulator), api_key=emulator.api_key)
    try:
        assert isinstance(store, WandbArtifactStore)
        assert store.url == _store_url(emulator)
    finally:
        await store.aclose()

    def vault(url: str, **options: object) -> ArtifactStore:
        return LocalArtifactStore(tmp_path / "vault")

    monkeypatch.setitem(registry._REGISTERED, "wandb", vault)
    assert isinstance(open_store(_store_url(emulator)), LocalArtifactStore)
