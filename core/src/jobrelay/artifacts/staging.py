"""Which store to use, and staging a version from one store into another.

A platform can read only some stores (a local job reads the local store; a Ray cluster
may read only S3). When an input lives elsewhere, :func:`stage` copies it into the
platform's store once per digest, so a second job reading the same bytes copies nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jobrelay.artifacts.base import ArtifactStore, local_file_name, safe_file_name
from jobrelay.artifacts.registry import opened_store
from jobrelay.models import ArtifactRef

__all__ = ["ARTIFACTS_ENV", "STAGED_FROM", "resolve_store_url", "stage"]

ARTIFACTS_ENV = "JOBRELAY_ARTIFACTS"
STAGED_FROM = "jobrelay.staged_from"
_LOCAL = "local://"


def resolve_store_url(explicit: str | None = None, *, default: str = _LOCAL) -> str:
    """The store URL to use: the argument, else ``$JOBRELAY_ARTIFACTS``, else ``default``:
    the local platform's store (``local://``, i.e. ``<JOBRELAY_HOME or user data
    dir>/artifacts``) unless the caller has a better one (a platform's job store)."""
    return explicit or os.environ.get(ARTIFACTS_ENV) or default


async def stage(
    ref: ArtifactRef | str, source: ArtifactStore | str, target: ArtifactStore | str
) -> ArtifactRef:
    """Make the version ``ref`` names in ``source`` available in ``target``.

    ``source`` and ``target`` are stores or store URLs (opened through the store registry,
    and closed again here). Returns ``target``'s version with the same name and content.
    When ``target`` already holds it (staged before, or put there directly) nothing is
    copied; otherwise the bytes are fetched and verified from ``source`` into a temp folder
    and put into ``target``, with the producer and metadata kept and
    ``metadata["jobrelay.staged_from"]`` set to the source URI. A version is found again by
    its digest, or by that URI when the two stores digest differently (W&B's MD5 manifest).
    Raises ``ArtifactNotFound`` / ``IntegrityError`` from the source.
    """
    async with opened_store(source) as src, opened_store(target) as dst:
        original = ref if isinstance(ref, ArtifactRef) else await src.resolve(ref)
        if src.url == dst.url:
            return original
        for existing in await dst.list(original.name):
            if existing.digest == original.digest or (
                existing.metadata.get(STAGED_FROM) == original.uri
            ):
                return existing
        with tempfile.TemporaryDirectory(prefix="jobrelay-stage-") as tmp:
            # Fetched under its own name, so the staged version keeps the file name too.
            # A store that keeps no file name (W&B) leaves the artifact's own name.
            fallback = safe_file_name(original.name) or "payload"
            payload = await src.fetch(original, Path(tmp) / local_file_name(original, fallback))
            return await dst.put(
                original.name,
                payload,
                type=original.type,
                metadata={**original.metadata, STAGED_FROM: original.uri},
                producer=original.producer,
            )
