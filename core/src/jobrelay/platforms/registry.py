"""Platforms by URL scheme: ``local://``, ``ray://``, ``wandb://`` ...

Each scheme maps to an opener and a settings model (:mod:`jobrelay.platforms.settings`).
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
from jobrelay.platforms.settings import PlatformSettings, load_settings
from jobrelay.urls import parse_platform_url

Opener = Callable[..., Awaitable[Platform]]

# scheme -> (module, opener, settings model)
_BUILTIN: dict[str, tuple[str, str, str]] = {
    "local": ("jobrelay.platforms.local", "open_platform", "LocalSettings"),
    "ray": ("jobrelay.platforms.ray", "open_platform", "RaySettings"),
    "ray+https": ("jobrelay.platforms.ray", "open_platform", "RaySettings"),
    "wandb": ("jobrelay.platforms.wandb", "open_platform", "WandbSettings"),
    "anyscale": ("jobrelay.platforms.anyscale", "open_platform", "AnyscaleSettings"),
    "fused": ("jobrelay.platforms.fused", "open_platform", "FusedSettings"),
}
_REGISTERED: dict[str, tuple[Opener, type[PlatformSettings]]] = {}


def register_platform(
    scheme: str, opener: Opener, settings: type[PlatformSettings] = PlatformSettings
) -> None:
    """Make ``scheme://...`` URLs open with ``await opener(url, **options)``.

    ``settings`` is the platform's settings model, what :func:`platform_settings` checks.
    """
    _REGISTERED[scheme] = (opener, settings)


def settings_model(scheme: str) -> type[PlatformSettings]:
    """The settings model of a scheme (imports a built-in platform's module)."""
    if scheme in _REGISTERED:
        return _REGISTERED[scheme][1]
    module, _, model = _builtin(scheme)
    found: type[PlatformSettings] = getattr(importlib.import_module(module), model)
    return found


def platform_settings(url: str, **options: Any) -> PlatformSettings:
    """The checked settings ``url`` and ``options`` would open with; nothing is opened.

    The same ``ConfigError(field=<option>)`` as opening would raise for an unknown or
    mistyped option (an address the platform parses itself is checked when it opens).
    """
    return load_settings(settings_model(parse_platform_url(url).scheme), url, options)


def _builtin(scheme: str) -> tuple[str, str, str]:
    target = _BUILTIN.get(scheme)
    if target is None:
        raise ConfigError(
            f"unknown platform scheme {scheme!r}; use one of: "
            + ", ".join(f"{s}://" for s in known_schemes()),
            field="platform",
        )
    return target


def known_schemes() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


async def _opener(scheme: str) -> Opener:
    if scheme in _REGISTERED:
        return _REGISTERED[scheme][0]
    module_name, attr, _ = _builtin(scheme)
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
