"""Platforms: each implements :class:`~jobrelay.platforms.base.Platform` and a settings model."""

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
