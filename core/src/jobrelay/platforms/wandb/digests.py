"""W&B artifact digests (reference §8), computed in the same pass as a copy.

- a file entry's ``digest`` is the standard base64 of the MD5 of its bytes;
- an artifact's ``digest`` is the hex MD5 of ``"wandb-artifact-manifest-v1\\n"`` followed by
  ``f"{path}:{entry digest}\\n"`` for every entry, sorted by path;
- the manifest file's digest (for ``createArtifactManifest``) is the base64 MD5 of the exact
  JSON bytes uploaded.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CHUNK",
    "artifact_digest",
    "b64_md5",
    "b64_to_hex",
    "file_b64_md5",
    "manifest_bytes",
]

CHUNK = 1 << 20
MANIFEST_HEADER = "wandb-artifact-manifest-v1\n"


def b64_md5(data: bytes) -> str:
    """Standard base64 (with padding) of the MD5 of ``data``.

    >>> b64_md5(b"")
    '1B2M2Y8AsgTpgAmY7PhCfg=='
    """
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def file_b64_md5(path: Path) -> tuple[str, int]:
    """The base64 MD5 of a file and its size, read in chunks (memory stays flat)."""
    md5 = hashlib.md5()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            md5.update(chunk)
            size += len(chunk)
    return base64.b64encode(md5.digest()).decode("ascii"), size


def b64_to_hex(digest: str) -> str:
    """The hex form of a base64 digest (``b64decode(d).hex()``)."""
    return base64.b64decode(digest).hex()


def artifact_digest(entries: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """The hex MANIFEST_MD5 digest of an artifact from its ``path -> b64 digest`` entries.

    >>> artifact_digest({})
    '64e7c61456b10382e2f3b571ac24b659'
    """
    pairs = sorted(entries.items() if isinstance(entries, Mapping) else entries)
    md5 = hashlib.md5(MANIFEST_HEADER.encode())
    for path, digest in pairs:
        md5.update(f"{path}:{digest}\n".encode())
    return md5.hexdigest()


def manifest_bytes(
    contents: Mapping[str, Mapping[str, Any]], *, storage_region: str | None = None
) -> bytes:
    """The manifest JSON (version 1, ``wandb-storage-policy-v1``, storage layout V2).

    Entries keep only the fields that are set, as the Python serialiser does.
    """
    import json

    config: dict[str, Any] = {"storageLayout": "V2"}
    if storage_region:
        config["storageRegion"] = storage_region
    manifest = {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": config,
        "contents": {
            path: {k: v for k, v in entry.items() if v is not None}
            for path, entry in sorted(contents.items())
        },
    }
    return json.dumps(manifest, indent=4, sort_keys=False).encode()
