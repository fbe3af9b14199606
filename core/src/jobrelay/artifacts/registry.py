"""Artifact stores by URL scheme: ``local://``, a folder path, ``wandb://``, the fsspec schemes.

One place opens every store, the way :mod:`jobrelay.platforms.registry` opens platforms: the
client, :func:`~jobrelay.artifacts.stage`, ``jobrelay artifacts --store`` and
``$JOBRELAY_ARTIFACTS`` all come through :func:`open_store`. Stores that live outside the
core (``wandb://``) are imported on first use; third parties add theirs with
:func:`register_store`.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
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

_LOCAL = "local://"
_BUILTIN: dict[str, str] = {
    "wandb": "jobrelay.platforms.wandb.artifacts:open_store",
}
_REGISTERED: dict[str, StoreOpener] = {}


def register_store(scheme: str, opener: StoreOpener) -> None:
    """Make ``scheme://...`` store URLs open with ``opener(url, **options)``.

    A registered scheme takes precedence over a built-in one and over fsspec's.
    """
    if not isinstance(scheme, str) or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        raise ArtifactError(f"invalid store scheme {scheme!r}; use letters, digits and '+'")
    _REGISTERED[scheme.lower()] = opener


def known_store_schemes() -> list[str]:
    """The schemes opened by jobrelay itself (fsspec's come on top of these)."""
    return sorted({"local", *_BUILTIN, *_REGISTERED})


def _local_store(url: str) -> LocalArtifactStore:
    home = url.removeprefix(_LOCAL).split("?", 1)[0]
    return LocalArtifactStore((Path(home) if home else default_local_home()) / "artifacts")


def _builtin(scheme: str) -> StoreOpener | None:
    target = _BUILTIN.get(scheme)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    opener: StoreOpener = getattr(importlib.import_module(module_name), attr)
    return opener


def open_store(url: str | Path, **options: Any) -> ArtifactStore:
    """Open the artifact store at ``url``.

    * ``local://`` — the local platform's store in its default home;
      ``local:///srv/jobs`` — the store of the local platform whose home is ``/srv/jobs``
      (``/srv/jobs/artifacts``);
    * a plain path (``/data/artifacts``, ``~/arts``, ``Path(...)``) — a local store there;
    * ``wandb://ENTITY/PROJECT[?host=URL]`` — the W&B project's artifacts; the API key
      comes from ``api_key=`` or ``$WANDB_API_KEY``;
    * a scheme given to :func:`register_store` — its opener;
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
    opener = _REGISTERED.get(scheme) or _builtin(scheme)
    if opener is not None:
        return opener(url, **options)
    if scheme in ("", "local"):
        if options:
            raise ArtifactError(
                f"a local artifact store takes no options, got {', '.join(sorted(options))}"
            )
        if isinstance(url, Path) or not scheme:
            return LocalArtifactStore(Path(url))
        return _local_store(url)
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
