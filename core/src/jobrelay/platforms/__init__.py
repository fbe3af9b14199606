"""Platforms: each implements :class:`~jobrelay.platforms.base.Platform`."""

from jobrelay.platforms.base import Capabilities, Platform, QueueAdmin
from jobrelay.platforms.registry import open_platform, register_platform

__all__ = ["Capabilities", "Platform", "QueueAdmin", "open_platform", "register_platform"]
