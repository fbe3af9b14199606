"""The embedded ``local`` platform: a durable SQLite queue and worker agents on this host.

``local://`` uses the default home (``$JOBRELAY_HOME`` or the user data directory);
``local:///absolute/path`` uses that directory. Query options: ``autostart=0`` (never
start an agent automatically) and ``idle_timeout=SECONDS`` (how long an auto-started agent
stays with nothing to do).

>>> platform = await open_platform("local:///tmp/jobs?autostart=0")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path

from jobrelay.errors import ConfigError
from jobrelay.platforms.local.platform import LocalPlatform
from jobrelay.settings import default_local_home, parse_platform_url

__all__ = ["LocalPlatform", "open_platform", "resolve_home"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def resolve_home(url: str) -> tuple[Path, dict[str, str]]:
    """The home directory a ``local://`` URL names, and its query options.

    Raises ``ConfigError(field="platform")`` for a host part (``local://foo``) or an
    unknown query option.
    """
    parsed = parse_platform_url(url)
    if parsed.base_scheme != "local":
        raise ConfigError(f"{url!r} is not a local:// URL", field="platform")
    if parsed.netloc:
        raise ConfigError(
            f"{url!r} has a host part ({parsed.netloc!r}); the local platform takes a path: "
            "use local:///absolute/path (three slashes) or local:// for the default home",
            field="platform",
        )
    unknown = sorted(set(parsed.query) - {"autostart", "idle_timeout"})
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in {url!r}; the local platform accepts "
            "autostart=0|1 and idle_timeout=SECONDS",
            field="platform",
        )
    home = Path(parsed.path).resolve() if parsed.path not in ("", "/") else default_local_home()
    return home.absolute(), parsed.query


def _flag(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ConfigError(f"autostart must be 0 or 1, got {text!r}", field="platform")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ConfigError(
            f"idle_timeout must be a positive number of seconds, got {text!r}", field="platform"
        )
    return value


async def open_platform(
    url: str,
    *,
    autostart_agent: bool = True,
    agent_idle_timeout: float = 30.0,
    **options: object,
) -> LocalPlatform:
    """Open the local platform a ``local://`` URL names, creating its home (0700).

    URL query options override the keyword arguments. Unknown keyword options raise
    ``ConfigError`` naming the option.
    """
    home, query = resolve_home(url)
    for name in options:
        raise ConfigError(
            "not an option of the local platform (it takes autostart_agent and agent_idle_timeout)",
            field=name,
        )
    if "autostart" in query:
        autostart_agent = _flag(query["autostart"])
    if "idle_timeout" in query:
        agent_idle_timeout = _seconds(query["idle_timeout"])
    return await LocalPlatform.open(
        home, autostart_agent=autostart_agent, agent_idle_timeout=agent_idle_timeout
    )
