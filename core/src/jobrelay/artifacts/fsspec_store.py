"""An artifact store on any fsspec URL: ``file://``, ``memory://``, ``s3://``, ``gs://``...

Layout under the root URL::

    blobs/sha256-4mib/ab/abcd…       content-addressed blobs (files, folder manifests)
    tmp/<id>                         uploads in flight; renamed to their blob when complete
    versions/<name>/v<N>.json        one immutable record per version
    aliases/<name>/<alias>.json      {"version": "vN"}; last writer wins
    consumers/<name>/v<N>/<job>.json one object per consumer, so writers never collide

A version is claimed by creating ``versions/<name>/v<N>.json`` exclusively, with N one past
the highest number listed; a writer that loses the race lists again and retries with the
next N. Before claiming, a writer looks for a version of the name with the same digest and
returns it, so identical content is one version even when two writers race: the loser of
a claim on N re-lists, sees the winner's record, and reuses it. ``latest`` is the highest
number listed, so it can never point at a version that does not exist.

How "exclusively" is achieved depends on the filesystem:

* local (``file://``): the record is written to a temp file, synced, then ``link``-ed to
  its name, which fails if the name exists: atomic and complete, also across processes.
* S3 (s3fs): ``PutObject`` with ``If-None-Match: *`` (S3 conditional writes, also
  implemented by moto's server). A store whose S3 endpoint ignores the header degrades to
  last-writer-wins on a race for the same N: two different versions could then collide.
* other filesystems: fsspec's ``pipe_file(mode="create")``, which some implementations
  emulate with check-then-write; a concurrent writer could slip between the two.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

# fsspec ships no type information; what we use of it is typed at this boundary.
import fsspec  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import LATEST, Reference, check_name
from jobrelay.artifacts.blobstore import BlobStore, VersionRecord, with_number
from jobrelay.artifacts.digests import ALGORITHM, digest_hex, hash_file
from jobrelay.artifacts.localfs import (
    blob_path,
    create_exclusive,
    store_blob,
    sweep_stale_temps,
    write_atomic,
)
from jobrelay.artifacts.streams import copy_hashing, verify
from jobrelay.errors import ArtifactError, ArtifactNotFound, IntegrityError
from jobrelay.models import ArtifactRef, JobRef

__all__ = ["FsspecArtifactStore"]

_RECORD = re.compile(r"^v([1-9][0-9]*)\.json$")
_MAX_CLAIMS = 1000
# Large enough for few round trips to object stores, small enough to keep memory flat.
_READ_BLOCK = 16 * 2**20


class FsspecArtifactStore(BlobStore):
    """Artifact versions under an fsspec URL; safe for concurrent writers (see module doc).

    ``storage_options`` go to fsspec (e.g. ``endpoint_url`` or ``key`` for S3); without
    them the filesystem reads its usual environment variables.

    >>> store = FsspecArtifactStore("s3://bucket/artifacts")  # doctest: +SKIP
    >>> ref = await store.put("model", Path("model.pt"))  # doctest: +SKIP
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ArtifactError(f"cannot open artifact store {url!r}: {exc}") from None
        self.fs: fsspec.AbstractFileSystem = fs
        self.root: str = root.rstrip("/")
        self.url: str = fs.unstrip_protocol(self.root)
        self._local = isinstance(fs, LocalFileSystem)
        self._records_seen: dict[tuple[str, int], VersionRecord] = {}
        self._swept = False

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({self.url!r})"

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    # -- small object writes -------------------------------------------------------------

    def _write(self, path: str, body: dict[str, Any]) -> None:
        data = json.dumps(body, sort_keys=True).encode()
        if self._local:
            write_atomic(Path(path), data, self._local_tmp())
        else:
            self.fs.pipe_file(path, data)

    def _create(self, path: str, body: dict[str, Any]) -> bool:
        """Create ``path`` unless it exists; True if this call created it."""
        data = json.dumps(body, sort_keys=True).encode()
        if self._local:
            return create_exclusive(Path(path), data, self._local_tmp())
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        return True

    def _read_json(self, path: str) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.fs.cat_file(path)))

    def _list_names(self, folder: str) -> list[str]:
        with contextlib.suppress(AttributeError):
            self.fs.invalidate_cache(folder)  # object-store listings are cached otherwise
        try:
            entries = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return []
        return [str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries]

    def _local_tmp(self) -> Path:
        return Path(self._path("tmp"))

    # -- blobs -----------------------------------------------------------------------------

    def _blob(self, digest: str) -> str:
        hexdigest = digest_hex(digest)
        return self._path("blobs", ALGORITHM, hexdigest[:2], hexdigest)

    def _store_blob(self, src: IO[bytes]) -> tuple[str, int]:
        if self._local:
            if not self._swept:
                sweep_stale_temps(self._local_tmp())
                self._swept = True
            return store_blob(src, Path(self._path("blobs")), self._local_tmp())
        # The digest is only known once every byte went up, so upload under a temp name
        # (one streaming pass, hashing as we go) and move it to its blob name afterwards.
        # A process killed mid-upload leaves an unfinished multipart upload under tmp/,
        # never a blob: S3 only shows an object once its upload completes.
        tmp = self._path("tmp", uuid.uuid4().hex)
        try:
            with self.fs.open(tmp, "wb") as out:
                digest, size = copy_hashing(src, out)
            target = self._blob(digest)
            if self.fs.exists(target) and self.fs.size(target) == size:
                self.fs.rm_file(tmp)
            else:
                self.fs.mv(tmp, target)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise
        return digest, size

    def _open_blob(self, digest: str) -> AbstractContextManager[IO[bytes]]:
        path = self._blob(digest)
        try:
            if self._local:
                return open(path, "rb", buffering=0)
            return cast(IO[bytes], self.fs.open(path, "rb", block_size=_READ_BLOCK))
        except FileNotFoundError:
            raise IntegrityError(f"blob {digest} is missing from {self.url}") from None

    # -- version records -------------------------------------------------------------------

    def _numbers(self, name: str) -> list[int]:
        found = (_RECORD.match(entry) for entry in self._list_names(self._path("versions", name)))
        return sorted(int(match.group(1)) for match in found if match)

    def _record(self, name: str, number: int) -> VersionRecord:
        key = (name, number)
        if key not in self._records_seen:  # records never change once written
            path = self._path("versions", name, f"v{number}.json")
            self._records_seen[key] = VersionRecord.from_json(self._read_json(path))
        return self._records_seen[key]

    def _commit(self, draft: VersionRecord, aliases: Sequence[str]) -> VersionRecord:
        for _ in range(_MAX_CLAIMS):
            numbers = self._numbers(draft.name)
            same = [n for n in numbers if self._record(draft.name, n).digest == draft.digest]
            if same:
                record = self._record(draft.name, same[0])
                break
            record = with_number(draft, (numbers[-1] if numbers else 0) + 1)
            path = self._path("versions", draft.name, f"{record.version}.json")
            if self._create(path, record.to_json()):
                break
        else:
            raise ArtifactError(
                f"could not claim a version of {draft.name!r} in {self.url} after "
                f"{_MAX_CLAIMS} tries; too many concurrent writers?"
            )
        for alias in aliases:
            if alias != LATEST:  # latest is always the highest number, never stored
                self._write(
                    self._path("aliases", record.name, f"{alias}.json"), {"version": record.version}
                )
        return record

    def _find(self, reference: Reference) -> VersionRecord:
        name = reference.name
        number = reference.version
        if number is None and reference.alias == LATEST:
            numbers = self._numbers(name)
            number = numbers[-1] if numbers else None
        elif number is None:
            try:
                body = self._read_json(self._path("aliases", name, f"{reference.alias}.json"))
                number = int(str(body["version"]).removeprefix("v"))
            except FileNotFoundError:
                number = None
        if number is not None:
            with contextlib.suppress(FileNotFoundError):
                return self._record(name, number)
        count = len(self._numbers(name))
        if not count:
            raise ArtifactNotFound(f"no artifact {name!r} in {self.url}")
        raise ArtifactNotFound(f"{reference} not found in {self.url} ({count} version(s))")

    def _records(self, name: str | None) -> list[VersionRecord]:
        names = [name] if name is not None else sorted(self._list_names(self._path("versions")))
        records: list[VersionRecord] = []
        for each in names:
            with contextlib.suppress(ArtifactError):
                check_name(each)  # skip anything a human dropped into versions/
                records.extend(self._record(each, number) for number in self._numbers(each))
        return records

    # -- consumers ---------------------------------------------------------------------------

    def _consumer_folder(self, record: VersionRecord) -> str:
        return self._path("consumers", record.name, record.version)

    def _add_consumer(self, record: VersionRecord, consumer: JobRef) -> None:
        key = hashlib.sha256(str(consumer).encode()).hexdigest()[:32]
        body = {"job": consumer.model_dump(mode="json"), "recorded_at": _now()}
        # Created once: recording the same consumer again keeps the first time it read.
        self._create(f"{self._consumer_folder(record)}/{key}.json", body)

    def _consumers(self, record: VersionRecord) -> list[JobRef]:
        folder = self._consumer_folder(record)
        bodies = [
            self._read_json(f"{folder}/{entry}")
            for entry in self._list_names(folder)
            if entry.endswith(".json")
        ]
        bodies.sort(key=lambda body: str(body.get("recorded_at", "")))
        return [JobRef.model_validate(body["job"]) for body in bodies]

    # -- local paths -------------------------------------------------------------------------

    async def verified_local_path(self, ref: ArtifactRef | str) -> Path | None:
        """On ``file://``: the verified blob of a file artifact. Otherwise None."""
        if not self._local:
            return None

        def check() -> Path | None:
            record = self._lookup(ref)
            if record.layout != "file":
                return None
            path = blob_path(Path(self._path("blobs")), record.digest)
            if not path.is_file():
                raise IntegrityError(f"blob {record.digest} is missing from {self.url}")
            verify(f"{record.name}:{record.version}", hash_file(path), record.digest, record.size)
            return path

        return await run_blocking(check)


def _now() -> str:
    return datetime.now(UTC).isoformat()
