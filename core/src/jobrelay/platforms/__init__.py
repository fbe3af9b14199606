"""Platforms: each implements :class:`~jobrelay.platforms.base.Platform` and a settings model.

Names load on first use (PEP 562): importing a platform's package does not import httpx,
which only the hosted platforms' settings need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobrelay._lazy import lazy_names

if TYPE_CHECKING:
    from jobrelay.platforms.base import Capabilities, Platform, QueueAdmin
    from jobrelay.platforms.registry import (
        open_platform,
        platform_settings,
        register_platform,
        settings_model,
    )
    from jobrelay.platforms.settings import HttpPlatformSettings, PlatformSettings, load_settings

__all__ = [
    "Capabilities",
    "HttpPlatformSettings",
    "Platform",
    "PlatformSettings",
    "QueueAdmin",
    "load_settings",
    "open_platform",
    "platform_settings",
    "register_platform",
    "settings_model",
]

_HOMES = {
    **dict.fromkeys(("Capabilities", "Platform", "QueueAdmin"), "jobrelay.platforms.base"),
    **dict.fromkeys(
        ("open_platform", "platform_settings", "register_platform", "settings_model"),
        "jobrelay.platforms.registry",
    ),
    **dict.fromkeys(
        ("HttpPlatformSettings", "PlatformSettings", "load_settings"),
        "jobrelay.platforms.settings",
    ),
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
