"""Opening stores by URL, and staging a version from one store into another.

A platform can read only some stores (a local job reads the local store; a Ray cluster
may read only S3). When an input lives elsewhere, :func:`stage` copies it into the
platform's store once per digest, so a second job reading the same bytes copies nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.fsspec_store import FsspecArtifactStore
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.errors import ArtifactError
from jobrelay.models import ArtifactRef
from jobrelay.settings import default_local_home

__all__ = ["ARTIFACTS_ENV", "STAGED_FROM", "open_store", "resolve_store_url", "stage"]

ARTIFACTS_ENV = "JOBRELAY_ARTIFACTS"
STAGED_FROM = "jobrelay.staged_from"
_LOCAL = "local://"


def resolve_store_url(explicit: str | None = None) -> str:
    """The store URL to use: the argument, else ``$JOBRELAY_ARTIFACTS``, else the local
    platform's store (``local://``, i.e. ``<JOBRELAY_HOME or user data dir>/artifacts``)."""
    return explicit or os.environ.get(ARTIFACTS_ENV) or _LOCAL


def open_store(url: str | Path, **storage_options: Any) -> ArtifactStore:
    """Open the artifact store at ``url``.

    * ``local://`` — the local platform's store in its default home;
      ``local:///srv/jobs`` — the store of the local platform whose home is ``/srv/jobs``
      (``/srv/jobs/artifacts``);
    * a plain path (``/data/artifacts``, ``~/arts``, ``Path(...)``) — a local store there;
    * anything else (``file://``, ``memory://``, ``s3://``...) — an fsspec store, with
      ``storage_options`` passed to fsspec.

    ``open_store(store.url)`` opens the same store again. Raises ``ArtifactError`` for a
    URL nothing can open.

    >>> open_store("local:///srv/jobs").url
    'local:///srv/jobs'
    """
    if isinstance(url, Path):
        return LocalArtifactStore(url)
    if not isinstance(url, str) or not url or "\0" in url:
        raise ArtifactError(f"invalid artifact store URL {url!r}")
    if url.startswith(_LOCAL):
        home = url.removeprefix(_LOCAL).split("?", 1)[0]
        return LocalArtifactStore((Path(home) if home else default_local_home()) / "artifacts")
    if "://" not in url:
        return LocalArtifactStore(Path(url))
    return FsspecArtifactStore(url, **storage_options)


async def stage(
    ref: ArtifactRef | str, source: ArtifactStore, target: ArtifactStore
) -> ArtifactRef:
    """Make the version ``ref`` names in ``source`` available in ``target``.

    Returns ``target``'s version with the same name and digest. When ``target`` already
    holds it (staged before, or put there directly) nothing is copied; otherwise the bytes
    are fetched and verified from ``source`` into a temp folder and put into ``target``,
    with the producer and metadata kept and ``metadata["jobrelay.staged_from"]`` set to the
    source URI. Raises ``ArtifactNotFound`` / ``IntegrityError`` from the source.
    """
    original = ref if isinstance(ref, ArtifactRef) else await source.resolve(ref)
    if source.url == target.url:
        return original
    for existing in await target.list(original.name):
        if existing.digest == original.digest:
            return existing
    with tempfile.TemporaryDirectory(prefix="jobrelay-stage-") as tmp:
        payload = await source.fetch(original, Path(tmp) / "payload")
        return await target.put(
            original.name,
            payload,
            type=original.type,
            metadata={**original.metadata, STAGED_FROM: original.uri},
            producer=original.producer,
        )
