"""Vendor SDKs in throwaway environments: the official SDKs judge the emulators but are never
installed in the project's environment (``uv run --isolated --no-project --with SDK``).

A test that needs one is skipped only when the package registry cannot be reached (and the
SDK is not in uv's cache), and says so; any other failure to install it fails the test.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

__all__ = ["NETWORK_WORDS", "isolated_python", "skip_if_unreachable", "uv_command", "uv_dirs"]

# Words of uv's errors when the registry is out of reach (not when a package is wrong).
NETWORK_WORDS = ("failed to fetch", "dns", "connect", "network", "resolve", "timed out", "offline")


def uv_command() -> list[str]:
    """How to run uv here: ``uv`` on PATH, else ``python3 -m uv`` (as the README installs it)."""
    found = shutil.which("uv")
    if found:
        return [found]
    python = shutil.which("python3")
    if (
        python
        and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0
    ):
        return [python, "-m", "uv"]
    pytest.fail("uv is not on PATH; the SDK tests build their environment with it")


def uv_dirs(uv: list[str]) -> dict[str, str]:
    """uv's cache and Python folders, named so that a temporary HOME does not move them
    (the SDK's environment is then built once and reused)."""
    found = {}
    for variable, what in (("UV_CACHE_DIR", "cache"), ("UV_PYTHON_INSTALL_DIR", "python")):
        done = subprocess.run([*uv, what, "dir"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            found[variable] = done.stdout.strip().splitlines()[-1]
    return found


def skip_if_unreachable(what: str, stderr: str) -> None:
    """Skip (naming ``what`` and uv's last line) when ``stderr`` reads as an unreachable
    registry; else fail with it."""
    if any(word in stderr.lower() for word in NETWORK_WORDS):
        last = (stderr.strip().splitlines() or ["(no message)"])[-1]
        pytest.skip(f"the package registry cannot be reached to install {what}: {last}")
    pytest.fail(f"installing {what} failed: {stderr[-2000:]}")


def isolated_python(sdk: str, module: str) -> list[str]:
    """The command that runs Python with ``sdk`` installed (``import module`` checked)."""
    command = [*uv_command(), "run", "--isolated", "--no-project", "--with", sdk, "python"]
    probe = subprocess.run(
        [*command, "-c", f"import {module}"], capture_output=True, text=True, timeout=300
    )
    if probe.returncode != 0:
        skip_if_unreachable(sdk, probe.stderr)
    return command
