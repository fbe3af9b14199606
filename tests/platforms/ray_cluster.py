"""One real Ray head per test session, shared by the contract suite and tests/platforms/ray.

Started lazily on first use (so a run that selects no Ray test starts no cluster) with
:class:`jobrelay_emulators.ray_head.RayHead` — loopback only, every port randomised, see
``reference/ray.md`` — and stopped when the test process exits.
"""

from __future__ import annotations

import atexit
import shutil
import sys
from pathlib import Path

import pytest
from jobrelay_emulators.ray_head import RayHead

_head: RayHead | None = None


def ray_installed() -> bool:
    return (Path(sys.executable).parent / "ray").exists() or shutil.which("ray") is not None


def shared_head() -> RayHead:
    """The session's Ray head, started on first call; skips when ray is not installed."""
    global _head
    if _head is None:
        if not ray_installed():
            pytest.skip("ray[default] is not installed; `uv sync` installs it")
        _head = RayHead.start()
        atexit.register(_head.stop)
    return _head
