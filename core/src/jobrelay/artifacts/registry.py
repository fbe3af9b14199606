"""Artifact stores by URL scheme: ``local://``, a path, a declared store, the fsspec schemes.

One place opens every store, the way :mod:`jobrelay.platforms.registry` opens platforms: the
client, :func:`~jobrelay.artifacts.stage`, ``jobrelay artifacts --store``,
``$JOBRELAY_ARTIFACTS``, the job side and the adapters' IO managers all come through
:func:`open_store`. This module knows no platform. A package declares its store in its
distribution's metadata, an entry point in the ``jobrelay.stores`` group named for the
scheme (the W&B platform declares ``wandb`` this way in the core's ``pyproject.toml``), so a
store URL opens from every entry point without anyone importing the package first; its
module is imported on first use. :func:`register_store` adds one at run time.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.fsspec_store import FsspecArtifactStore
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.errors import ArtifactError
from jobrelay.urls import default_local_home

__all__ = [
    "StoreOpener",
    "close_store",
    "known_store_schemes",
    "open_store",
    "opened_store",
    "register_store",
]

StoreOpener = Callable[..., ArtifactStore]
"""``opener(url, **options) -> ArtifactStore``; raises ``ConfigError``/``ArtifactError``."""

STORES_GROUP = "jobrelay.stores"
"""The entry-point group where a distribution declares ``scheme = "module:opener"``."""

_LOCAL = "local://"
_REGISTERED: dict[str, StoreOpener] = {}


def register_store(scheme: str, opener: StoreOpener) -> None:
    """Make ``scheme://...`` store URLs open with ``opener(url, **options)``.

    A registered scheme takes precedence over a declared one and over fsspec's.
    """
    if not isinstance(scheme, str) or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        raise ArtifactError(f"invalid store scheme {scheme!r}; use letters, digits and '+'")
    _REGISTERED[scheme.lower()] = opener


def known_store_schemes() -> list[str]:
    """The schemes opened by jobrelay itself (fsspec's come on top of these)."""
    return sorted({"local", *_declared(), *_REGISTERED})


def _local_store(url: str) -> LocalArtifactStore:
    home = url.removeprefix(_LOCAL).split("?", 1)[0]
    return LocalArtifactStore((Path(home) if home else default_local_home()) / "artifacts")


@functools.cache
def _declared() -> dict[str, EntryPoint]:
    # Read once a process: scanning every installed distribution's metadata takes tens of
    # milliseconds, and only a URL that is neither local nor registered needs it.
    return {ep.name.lower(): ep for ep in entry_points(group=STORES_GROUP)}


def _declared_opener(scheme: str) -> StoreOpener | None:
    declared = _declared().get(scheme)
    if declared is None:
        return None
    opener: StoreOpener = declared.load()
    return opener


def open_store(url: str | Path, **options: Any) -> ArtifactStore:
    """Open the artifact store at ``url``.

    * ``local://`` — the local platform's store in its default home;
      ``local:///srv/jobs`` — the store of the local platform whose home is ``/srv/jobs``
      (``/srv/jobs/artifacts``);
    * a plain path (``/data/artifacts``, ``~/arts``, ``Path(...)``) — a local store there;
    * a scheme given to :func:`register_store`, else one a distribution declares in the
      ``jobrelay.stores`` entry-point group — its opener; the core declares
      ``wandb://ENTITY/PROJECT[?host=URL]``, the W&B project's artifacts (the API key
      comes from ``api_key=`` or ``$WANDB_API_KEY``);
    * anything else fsspec knows (``file://``, ``memory://``, ``s3://``...) — an fsspec
      store, with ``options`` passed to fsspec (``endpoint_url=``...).

    ``open_store(store.url)`` opens the same store again. Raises ``ArtifactError`` for a
    URL nothing can open (``ConfigError`` from an opener for a bad option or credential).

    >>> open_store("local:///srv/jobs").url
    'local:///srv/jobs'
    """
    if not isinstance(url, (str, Path)) or not str(url) or "\0" in str(url):
        raise ArtifactError(f"invalid artifact store URL {url!r}")
    scheme = str(url).split("://", 1)[0].lower() if "://" in str(url) else ""
    if scheme in ("", "local") and scheme not in _REGISTERED:
        if options:
            raise ArtifactError(
                f"a local artifact store takes no options, got {', '.join(sorted(options))}"
            )
        if isinstance(url, Path) or not scheme:
            return LocalArtifactStore(Path(url))
        return _local_store(url)
    opener = _REGISTERED.get(scheme) or _declared_opener(scheme)
    if opener is not None:
        return opener(url, **options)
    return FsspecArtifactStore(str(url), **options)


async def close_store(store: ArtifactStore) -> None:
    """Release what a store holds open (a W&B store's HTTP client); a no-op for others."""
    aclose = getattr(store, "aclose", None)
    if aclose is not None:
        await aclose()


@contextlib.asynccontextmanager
async def opened_store(
    store: ArtifactStore | str | Path, **options: Any
) -> AsyncIterator[ArtifactStore]:
    """``store`` itself, or the store at that URL opened here and closed on the way out."""
    if not isinstance(store, (str, Path)):
        yield store
        return
    opened = open_store(store, **options)
    try:
        yield opened
    finally:
        await close_store(opened)
