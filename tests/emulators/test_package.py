"""The emulators package declares its names (pinned here) and loads them on first use, so
importing it starts no server stack."""

from __future__ import annotations

import subprocess
import sys

import jobrelay_emulators

DECLARED = {
    "AnyscaleEmulator",
    "EmulatorServer",
    "Fault",
    "FaultKind",
    "Faults",
    "FusedEmulator",
    "Outcome",
    "RayHead",
    "RecordedRequest",
    "RequestLog",
    "WandbEmulator",
}


def test_the_package_declares_the_emulators_and_each_name_resolves() -> None:
    assert set(jobrelay_emulators.__all__) == DECLARED
    for name in DECLARED - {"FaultKind"}:  # a Literal alias has no __name__
        assert getattr(jobrelay_emulators, name).__name__ == name
    assert "corrupt" in jobrelay_emulators.FaultKind.__args__
    emulators = [jobrelay_emulators.AnyscaleEmulator, jobrelay_emulators.FusedEmulator]
    assert all(issubclass(e, jobrelay_emulators.EmulatorServer) for e in emulators)
    assert issubclass(jobrelay_emulators.WandbEmulator, jobrelay_emulators.EmulatorServer)


def test_importing_the_package_loads_no_server_stack_until_a_name_is_read() -> None:
    probe = (
        "import sys, jobrelay_emulators\n"
        "heavy = ('uvicorn', 'starlette', 'graphql', 'jobrelay_emulators.wandb')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))\n"
        "jobrelay_emulators.WandbEmulator\n"
        "print('uvicorn' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\n")
    assert out[:2] == ["[]", "True"]
