"""Platforms by URL scheme: ``local://``, ``ray://``, ``wandb://`` ...

Built-in platforms are imported lazily so ``import jobrelay`` stays cheap. Third parties
register their own with :func:`register_platform`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from jobrelay.errors import ConfigError
from jobrelay.platforms.base import Platform
from jobrelay.settings import parse_platform_url

Opener = Callable[..., Awaitable[Platform]]

_BUILTIN: dict[str, str] = {
    "local": "jobrelay.platforms.local:open_platform",
    "ray": "jobrelay.platforms.ray:open_platform",
    "ray+https": "jobrelay.platforms.ray:open_platform",
    "wandb": "jobrelay.platforms.wandb:open_platform",
}
_REGISTERED: dict[str, Opener] = {}


def register_platform(scheme: str, opener: Opener) -> None:
    """Make ``scheme://...`` URLs open with ``await opener(url, **options)``."""
    _REGISTERED[scheme] = opener


def known_schemes() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


async def _opener(scheme: str) -> Opener:
    if scheme in _REGISTERED:
        return _REGISTERED[scheme]
    target = _BUILTIN.get(scheme)
    if target is None:
        raise ConfigError(
            f"unknown platform scheme {scheme!r}; use one of: "
            + ", ".join(f"{s}://" for s in known_schemes()),
            field="platform",
        )
    module_name, _, attr = target.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        # A first import can take a while (httpx, a platform's parsers); in a worker thread
        # it never stalls the caller's event loop (an Airflow triggerer runs many triggers on
        # one). anyio's thread, not asyncio.to_thread: concurrent.futures holds a lock
        # global to the process while it starts a thread, and an orchestrator's signal
        # handler that interrupts that moment and then cancels a job (Airflow's on_kill)
        # would wait on it forever.
        module = await anyio.to_thread.run_sync(importlib.import_module, module_name)
    opener: Opener = getattr(module, attr)
    return opener


async def open_platform(url: str, **options: Any) -> Platform:
    """Open the platform a URL names. Bad URLs raise ``ConfigError`` before any I/O."""
    scheme = parse_platform_url(url).scheme
    return await (await _opener(scheme))(url, **options)
