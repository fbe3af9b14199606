"""Offline emulators of the hosted platforms (``pip install 'jobrelay[emulators]'``).

>>> from jobrelay_emulators import AnyscaleEmulator
>>> with AnyscaleEmulator() as emulator:                           # doctest: +SKIP
...     emulator.add_fault("create", status=429, retry_after=1)
...     ...  # point the platform at emulator.url
...     assert len(emulator.calls("create")) == 2

Every emulator has the same lifecycle (port 0 picks a free port; ``start``/``stop`` or a
``with`` block; ``serve_forever`` for a terminal), the same request log (``requests``,
``calls(operation)``) and the same fault injector (``add_fault(operation, kind, ...)``).
The names load on first use, so importing this package starts no server stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobrelay._lazy import lazy_names

if TYPE_CHECKING:
    from jobrelay_emulators.anyscale import AnyscaleEmulator
    from jobrelay_emulators.faults import Fault, FaultKind, Faults
    from jobrelay_emulators.fused import FusedEmulator
    from jobrelay_emulators.lifecycle import EmulatorServer
    from jobrelay_emulators.ray_head import RayHead
    from jobrelay_emulators.request_log import RecordedRequest, RequestLog
    from jobrelay_emulators.wandb import Outcome, WandbEmulator

__all__ = [
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
]

# Where each name lives: imported when first asked for (the W&B emulator loads starlette,
# uvicorn and graphql-core).
_HOMES = {
    "AnyscaleEmulator": "jobrelay_emulators.anyscale",
    "EmulatorServer": "jobrelay_emulators.lifecycle",
    "Fault": "jobrelay_emulators.faults",
    "FaultKind": "jobrelay_emulators.faults",
    "Faults": "jobrelay_emulators.faults",
    "FusedEmulator": "jobrelay_emulators.fused",
    "Outcome": "jobrelay_emulators.wandb",
    "RayHead": "jobrelay_emulators.ray_head",
    "RecordedRequest": "jobrelay_emulators.request_log",
    "RequestLog": "jobrelay_emulators.request_log",
    "WandbEmulator": "jobrelay_emulators.wandb",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
