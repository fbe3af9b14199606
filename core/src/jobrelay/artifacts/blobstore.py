"""What the local and the fsspec stores share: blobs + version records, put and fetch.

A store of this kind keeps content-addressed blobs (a file's bytes, or a folder's manifest
and each of its files) and one immutable record per version naming the blob. The logic of
``put`` (file or folder, type rules, idempotency) and ``fetch`` (verify before anything
appears at the destination) lives here once; a subclass supplies the few storage
primitives. The primitives block, so every public method runs them in a worker thread and
never blocks the event loop.
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import (
    FILE_TYPE,
    FOLDER_TYPE,
    Lineage,
    Reference,
    artifact_uri,
    check_alias,
    check_name,
    check_put,
    check_reference,
    parse_reference,
    reference_for,
    stored_file_name,
)
from jobrelay.artifacts.digests import digest_bytes
from jobrelay.artifacts.filecopy import copy_file
from jobrelay.artifacts.localfs import remove_quietly, temp_name
from jobrelay.artifacts.manifest import Manifest, ManifestEntry, walk_folder
from jobrelay.artifacts.streams import verify
from jobrelay.errors import ArtifactError, IntegrityError
from jobrelay.models import ArtifactRef, JobRef

__all__ = ["BlobStore", "Layout", "VersionRecord", "next_number", "with_number"]

Layout = Literal["file", "dir"]


@dataclass(frozen=True)
class VersionRecord:
    """One stored version: what the store writes once and never changes."""

    name: str
    number: int
    digest: str
    size: int
    type: str
    layout: Layout
    metadata: dict[str, Any] = field(default_factory=dict)
    producer: JobRef | None = None
    created_at: str = ""
    file_name: str | None = None  # what the stored file or folder was called

    @property
    def version(self) -> str:
        return f"v{self.number}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "size": self.size,
            "type": self.type,
            "layout": self.layout,
            "metadata": self.metadata,
            "producer": self.producer.model_dump(mode="json") if self.producer else None,
            "created_at": self.created_at,
            "file_name": self.file_name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VersionRecord:
        producer = data.get("producer")
        return cls(
            name=data["name"],
            number=int(str(data["version"]).removeprefix("v")),
            digest=data["digest"],
            size=int(data["size"]),
            type=data["type"],
            layout=data["layout"],
            metadata=dict(data.get("metadata") or {}),
            producer=JobRef.model_validate(producer) if producer else None,
            created_at=data.get("created_at", ""),
            file_name=data.get("file_name"),
        )

    def to_ref(self, store_url: str) -> ArtifactRef:
        return ArtifactRef(
            uri=artifact_uri(store_url, self.name, self.version),
            name=self.name,
            version=self.version,
            digest=self.digest,
            size=self.size,
            type=self.type,
            producer=self.producer,
            metadata=self.metadata,
            file_name=self.file_name,
        )


class BlobStore(ABC):
    """Base of stores built from content-addressed blobs and version records."""

    url: str

    # -- storage primitives a subclass provides (blocking; run in a worker thread) ------

    @abstractmethod
    def _store_blob(self, src: IO[bytes]) -> tuple[str, int]:
        """Stream ``src`` into a blob (deduplicated by digest); return (digest, size)."""

    @abstractmethod
    def _open_blob(self, digest: str) -> AbstractContextManager[IO[bytes]]:
        """Open a blob for reading; ``IntegrityError`` if it is missing."""

    @abstractmethod
    def _commit(self, draft: VersionRecord, aliases: Sequence[str]) -> VersionRecord:
        """Publish ``draft`` as the next version of its name, atomically.

        Returns the existing record when the name already has a version with this digest.
        ``aliases`` are pointed at the returned version either way.
        """

    @abstractmethod
    def _find(self, reference: Reference) -> VersionRecord:
        """The record a parsed reference names; ``ArtifactNotFound`` if none."""

    @abstractmethod
    def _records(self, name: str | None) -> list[VersionRecord]:
        """Every record of ``name`` (or of all names), by name then version."""

    @abstractmethod
    def _add_consumer(self, record: VersionRecord, consumer: JobRef) -> None: ...

    @abstractmethod
    def _consumers(self, record: VersionRecord) -> list[JobRef]: ...

    # -- the public, async API ----------------------------------------------------------

    async def put(
        self,
        name: str,
        path: Path,
        *,
        type: str = FILE_TYPE,
        metadata: dict[str, Any] | None = None,
        aliases: Sequence[str] = (),
        producer: JobRef | None = None,
    ) -> ArtifactRef:
        """Store a file or folder as the next version of ``name`` (see ``ArtifactStore``)."""
        args = check_put(name, type, metadata, aliases)
        record = await run_blocking(
            self._put, args.name, Path(path), args.type, args.metadata, args.aliases, producer
        )
        return record.to_ref(self.url)

    async def resolve(self, reference: str) -> ArtifactRef:
        """The exact version ``name``, ``name:latest``, ``name:vN`` or ``name:ALIAS`` names."""
        record = await run_blocking(self._lookup, check_reference(reference))
        return record.to_ref(self.url)

    async def fetch(self, ref: ArtifactRef | str, dest: Path) -> Path:
        """Copy a version to ``dest``, verified; see ``ArtifactStore.fetch``."""
        return await run_blocking(self._fetch, ref, Path(dest))

    async def list(self, name: str | None = None) -> list[ArtifactRef]:
        """Every version of ``name``, or of every artifact, oldest first per name."""
        if name is not None:
            check_name(name)
        records = await run_blocking(self._records, name)
        return [record.to_ref(self.url) for record in records]

    async def record_consumer(self, ref: ArtifactRef | str, consumer: JobRef) -> None:
        """Remember that ``consumer`` read this version; recording twice is harmless."""

        def record() -> None:
            self._add_consumer(self._lookup(ref), consumer)

        await run_blocking(record)

    async def lineage(self, ref: ArtifactRef | str) -> Lineage:
        """The producer and consumers of one version."""

        def read() -> Lineage:
            record = self._lookup(ref)
            return Lineage(
                artifact=record.to_ref(self.url),
                producer=record.producer,
                consumers=self._consumers(record),
            )

        return await run_blocking(read)

    # -- shared logic -------------------------------------------------------------------

    def _lookup(self, ref: ArtifactRef | str) -> VersionRecord:
        """Resolve a ref, URI or reference; a ref whose digest differs is an error."""
        record = self._find(parse_reference(reference_for(self.url, ref)))
        if isinstance(ref, ArtifactRef) and ref.digest != record.digest:
            raise IntegrityError(
                f"{record.name}:{record.version} in {self.url} has digest {record.digest}, "
                f"but the reference says {ref.digest}; the store was rewritten"
            )
        return record

    def _put(
        self,
        name: str,
        path: Path,
        type: str,
        metadata: dict[str, Any],
        aliases: tuple[str, ...],
        producer: JobRef | None,
    ) -> VersionRecord:
        check_name(name)
        checked_aliases = [check_alias(alias) for alias in aliases]
        if not isinstance(type, str) or not type.strip():
            raise ArtifactError("artifact type must be a non-empty string")
        layout: Layout
        if path.is_dir():
            layout = "dir"
            type = FOLDER_TYPE if type == FILE_TYPE else type
            digest, size = self._store_folder(path)
        elif path.is_file():
            if type == FOLDER_TYPE:
                raise ArtifactError(f"type {FOLDER_TYPE!r} is for folders, but {path} is a file")
            layout = "file"
            with open(path, "rb", buffering=0) as src:
                digest, size = self._store_blob(src)
        else:
            raise ArtifactError(f"cannot store {name!r}: {path} is not a file or folder")
        draft = VersionRecord(
            name=name,
            number=0,
            digest=digest,
            size=size,
            type=type,
            layout=layout,
            metadata=metadata,
            producer=producer,
            created_at=datetime.now(UTC).isoformat(),
            file_name=stored_file_name(path),
        )
        return self._commit(draft, checked_aliases)

    def _store_folder(self, root: Path) -> tuple[str, int]:
        entries: dict[str, ManifestEntry] = {}
        for relative, path in walk_folder(root):
            with open(path, "rb", buffering=0) as src:
                entries[relative] = ManifestEntry(*self._store_blob(src))
        manifest = Manifest(entries)
        digest, _ = self._store_blob(io.BytesIO(manifest.to_bytes()))
        return digest, manifest.size

    def _read_manifest(self, record: VersionRecord) -> Manifest:
        with self._open_blob(record.digest) as src:
            data = src.read()
        what = f"manifest of {record.name}:{record.version}"
        verify(what, (digest_bytes(data), len(data)), record.digest, None)
        return Manifest.from_bytes(data)

    def _copy_blob(self, what: str, digest: str, size: int, dest: Path) -> None:
        # The digest checked is that of the bytes written to ``dest`` (see copy_file). Not
        # fsync-ed: like ``cp``, a fetch leaves durability to the caller.
        with self._open_blob(digest) as src:
            verify(what, copy_file(src, dest, durable=False), digest, size)

    def _fetch(self, ref: ArtifactRef | str, dest: Path) -> Path:
        record = self._lookup(ref)
        dest = dest.absolute()
        what = f"{record.name}:{record.version}"
        _check_destination(dest, record.layout)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Everything lands in a hidden sibling first and is renamed into place only after
        # every byte was verified, so a corrupt blob never leaves anything at ``dest``.
        tmp = dest.parent / temp_name(f".{dest.name}.")
        try:
            if record.layout == "file":
                self._copy_blob(what, record.digest, record.size, tmp)
            else:
                manifest = self._read_manifest(record)
                tmp.mkdir()
                for relative, entry in manifest.files.items():
                    target = tmp / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self._copy_blob(f"{what} file {relative}", entry.digest, entry.size, target)
                if dest.is_dir():
                    dest.rmdir()  # empty, checked above; a folder cannot be renamed over one
            os.replace(tmp, dest)
        except BaseException:
            remove_quietly(tmp)
            raise
        return dest


def _check_destination(dest: Path, layout: Layout) -> None:
    if layout == "file" and dest.is_dir():
        raise ArtifactError(f"cannot fetch a file to {dest}: it is a folder; name a file path")
    if layout == "dir" and dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ArtifactError(f"cannot fetch a folder to {dest}: it exists and is not empty")


def next_number(records: Sequence[VersionRecord]) -> int:
    """The number the next version of a name gets."""
    return max((record.number for record in records), default=0) + 1


def with_number(draft: VersionRecord, number: int) -> VersionRecord:
    return replace(draft, number=number)
