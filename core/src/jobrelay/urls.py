"""Platform URLs: parse and check them, redact them for display, and resolve the one to use.

Resolution order: explicit argument, then ``$JOBRELAY_PLATFORM``, then ``local://`` (whose
empty path means :func:`default_local_home`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobrelay.errors import ConfigError

__all__ = [
    "DEFAULT_PLATFORM",
    "PLATFORM_ENV",
    "PlatformURL",
    "default_local_home",
    "parse_platform_url",
    "redact_url",
    "resolve_platform_url",
]

PLATFORM_ENV = "JOBRELAY_PLATFORM"
DEFAULT_PLATFORM = "local://"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


@dataclass(frozen=True)
class PlatformURL:
    """A parsed platform URL such as ``ray://127.0.0.1:8265`` or ``local:///srv/jobs``."""

    raw: str
    scheme: str
    netloc: str
    path: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def base_scheme(self) -> str:
        """``ray`` for ``ray+https``."""
        return self.scheme.partition("+")[0]


_SECRET_QUERY = re.compile(r"(?i)credential|token|key|password|secret|auth")


def redact_url(url: str) -> str:
    """``url`` fit to show: no user info, and ``***`` for any credential-like query value.

    >>> redact_url("wandb://k3y@team/p?api_key=k3y&queue=gpu")
    'wandb://***@team/p?api_key=***&queue=gpu'
    """
    if not isinstance(url, str):
        return repr(type(url).__name__)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a malformed URL>"
    netloc = parts.netloc
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if "@" not in netloc and not any(_SECRET_QUERY.search(name) for name, _ in pairs):
        return url
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = [(name, "***" if _SECRET_QUERY.search(name) else value) for name, value in pairs]
    return urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(query, safe=":/*"), parts.fragment)
    )


def parse_platform_url(url: str) -> PlatformURL:
    """Parse and check a platform URL; anything malformed is a ``ConfigError``.

    >>> parse_platform_url("ray://127.0.0.1:8265").netloc
    '127.0.0.1:8265'
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"{redact_url(url)!r} is not a platform URL; expected SCHEME://..., e.g. local:// or "
            "ray://127.0.0.1:8265",
            field="platform",
        )
    if any(c.isspace() or c == "\0" for c in url):
        raise ConfigError("platform URL must not contain whitespace or NUL", field="platform")
    scheme = url.split("://", 1)[0].lower()
    if not _SCHEME.match(scheme):
        raise ConfigError(f"invalid URL scheme {scheme!r} in platform URL", field="platform")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"malformed platform URL: {exc}", field="platform") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return PlatformURL(raw=url, scheme=scheme, netloc=parts.netloc, path=parts.path, query=query)


def resolve_platform_url(explicit: str | None = None) -> str:
    """The platform URL to use: the argument, else ``$JOBRELAY_PLATFORM``, else ``local://``."""
    url = explicit or os.environ.get(PLATFORM_ENV) or DEFAULT_PLATFORM
    parse_platform_url(url)
    return url


def default_local_home() -> Path:
    """``$JOBRELAY_HOME``, else the user data directory."""
    env = os.environ.get("JOBRELAY_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("jobrelay", appauthor=False))
