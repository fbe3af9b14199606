"""The embedded ``local`` platform: a durable SQLite queue and worker agents on this host.

``local://`` uses the default home (``$JOBRELAY_HOME`` or the user data directory);
``local:///absolute/path`` uses that directory. Query options: ``autostart=0`` (never
start an agent automatically) and ``idle_timeout=SECONDS`` (how long an auto-started agent
stays with nothing to do).

>>> platform = await open_platform("local:///tmp/jobs?autostart=0")  # doctest: +SKIP

Names load on first use (PEP 562): the CLI's fast path reads the database through
``rows`` and ``schema`` without importing pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobrelay._lazy import lazy_names

if TYPE_CHECKING:
    from jobrelay.platforms.local.platform import LocalPlatform, open_platform
    from jobrelay.platforms.local.settings import LocalSettings, resolve_home

__all__ = ["LocalPlatform", "LocalSettings", "open_platform", "resolve_home"]

_HOMES = {
    "LocalPlatform": "jobrelay.platforms.local.platform",
    "LocalSettings": "jobrelay.platforms.local.settings",
    "open_platform": "jobrelay.platforms.local.platform",
    "resolve_home": "jobrelay.platforms.local.settings",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
