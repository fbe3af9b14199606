"""The local artifact store: blobs on this machine's disk, versions in SQLite.

Layout under the root (``<home>/artifacts`` for the ``local`` platform)::

    blobs/sha256-4mib/ab/abcd…  content-addressed, read-only blobs (files, folder manifests)
    tmp/                        temp files of puts in flight (swept when their process is gone)
    index.sqlite3               versions, aliases and consumers (WAL mode)

A put streams the bytes into ``tmp/`` while hashing, fsyncs, renames the temp file to its
blob path, and only then inserts the version row in one ``BEGIN IMMEDIATE`` transaction.
SQLite serializes writers across processes, so two puts of one name get distinct numbers,
and a process killed at any point leaves no visible partial version.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from jobrelay._sqlite_wal import enable_wal
from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import LATEST, Reference
from jobrelay.artifacts.blobstore import BlobStore, VersionRecord, with_number
from jobrelay.artifacts.digests import hash_file
from jobrelay.artifacts.localfs import blob_path, store_blob, sweep_stale_temps
from jobrelay.artifacts.streams import verify
from jobrelay.errors import ArtifactNotFound, IntegrityError
from jobrelay.models import ArtifactRef, JobRef

__all__ = ["LocalArtifactStore", "local_store_url"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    digest TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (name, number)
);
CREATE INDEX IF NOT EXISTS versions_by_digest ON versions (name, digest);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS consumers (
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    job_key TEXT NOT NULL,
    job TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (name, number, job_key)
);
"""


def local_store_url(root: Path) -> str:
    """The canonical URL of a local store rooted at ``root``.

    ``<home>/artifacts`` is written as the local platform's URL, ``local://<home>``; any
    other root as its absolute path. ``jobrelay.artifacts.open_store`` maps both back.
    """
    if root.name == "artifacts":
        return f"local://{root.parent}"
    return str(root)


class LocalArtifactStore(BlobStore):
    """Content-addressed blobs plus a SQLite index, safe for many processes at once.

    >>> store = LocalArtifactStore("/tmp/jobrelay-doc/artifacts")  # doctest: +SKIP
    >>> ref = await store.put("dataset", Path("data.csv"))  # doctest: +SKIP
    >>> ref.qualified_name  # doctest: +SKIP
    'dataset:v1'
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = local_store_url(self.root)
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        self._db_path = self.root / "index.sqlite3"
        self._ready = False
        self._swept = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    # -- SQLite ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _db(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction; ``write`` takes the write lock up front."""
        self._ensure_schema()
        conn = sqlite3.connect(self._db_path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _ensure_schema(self) -> None:
        with self._lock:
            if self._ready:
                return
            self.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._db_path, timeout=60, isolation_level=None)
            try:
                # WAL lets readers go on while a put commits; the mode sticks to the file.
                enable_wal(conn)
                conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
            finally:
                conn.close()
            self._ready = True

    # -- primitives ----------------------------------------------------------------------

    def _store_blob(self, src: IO[bytes]) -> tuple[str, int]:
        if not self._swept:
            sweep_stale_temps(self._tmp)
            self._swept = True
        return store_blob(src, self._blobs, self._tmp)

    def _open_blob(self, digest: str) -> AbstractContextManager[IO[bytes]]:
        try:
            return open(blob_path(self._blobs, digest), "rb", buffering=0)
        except FileNotFoundError:
            raise IntegrityError(f"blob {digest} is missing from {self.url}") from None

    def _commit(self, draft: VersionRecord, aliases: Sequence[str]) -> VersionRecord:
        with self._db(write=True) as db:
            row = db.execute(
                "SELECT record FROM versions WHERE name = ? AND digest = ? ORDER BY number",
                (draft.name, draft.digest),
            ).fetchone()
            if row:
                record = VersionRecord.from_json(json.loads(row[0]))
            else:
                (top,) = db.execute(
                    "SELECT max(number) FROM versions WHERE name = ?", (draft.name,)
                ).fetchone()
                record = with_number(draft, (top or 0) + 1)
                db.execute(
                    "INSERT INTO versions (name, number, digest, record) VALUES (?, ?, ?, ?)",
                    (record.name, record.number, record.digest, json.dumps(record.to_json())),
                )
            for alias in aliases:
                if alias != LATEST:  # latest is always the newest version, never stored
                    db.execute(
                        "INSERT OR REPLACE INTO aliases (name, alias, number) VALUES (?, ?, ?)",
                        (record.name, alias, record.number),
                    )
        return record

    def _find(self, reference: Reference) -> VersionRecord:
        name = reference.name
        with self._db() as db:
            if reference.version is not None:
                row = db.execute(
                    "SELECT record FROM versions WHERE name = ? AND number = ?",
                    (name, reference.version),
                ).fetchone()
            elif reference.alias == LATEST:
                row = db.execute(
                    "SELECT record FROM versions WHERE name = ? ORDER BY number DESC LIMIT 1",
                    (name,),
                ).fetchone()
            else:
                row = db.execute(
                    "SELECT v.record FROM aliases a JOIN versions v "
                    "ON v.name = a.name AND v.number = a.number WHERE a.name = ? AND a.alias = ?",
                    (name, reference.alias),
                ).fetchone()
            if row:
                return VersionRecord.from_json(json.loads(row[0]))
            (count,) = db.execute(
                "SELECT count(*) FROM versions WHERE name = ?", (name,)
            ).fetchone()
        raise ArtifactNotFound(_not_found(str(reference), self.url, count))

    def _records(self, name: str | None) -> list[VersionRecord]:
        query = "SELECT record FROM versions"
        args: tuple[str, ...] = ()
        if name is not None:
            query, args = query + " WHERE name = ?", (name,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY name, number", args).fetchall()
        return [VersionRecord.from_json(json.loads(row[0])) for row in rows]

    def _add_consumer(self, record: VersionRecord, consumer: JobRef) -> None:
        with self._db(write=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO consumers (name, number, job_key, job, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.number,
                    str(consumer),
                    consumer.model_dump_json(),
                    datetime.now(UTC).isoformat(),
                ),
            )

    def _consumers(self, record: VersionRecord) -> list[JobRef]:
        with self._db() as db:
            rows = db.execute(
                "SELECT job FROM consumers WHERE name = ? AND number = ? ORDER BY recorded_at",
                (record.name, record.number),
            ).fetchall()
        return [JobRef.model_validate_json(row[0]) for row in rows]

    # -- local paths ---------------------------------------------------------------------

    async def verified_local_path(self, ref: ArtifactRef | str) -> Path | None:
        """The blob of a file artifact after checking its digest; None for a folder.

        A job on this machine can read the returned path directly instead of a copy.
        """

        def check() -> Path | None:
            record = self._lookup(ref)
            if record.layout != "file":
                return None
            path = blob_path(self._blobs, record.digest)
            if not path.is_file():
                raise IntegrityError(f"blob {record.digest} is missing from {self.url}")
            verify(f"{record.name}:{record.version}", hash_file(path), record.digest, record.size)
            return path

        return await run_blocking(check)


def _not_found(reference: str, store_url: str, versions: int) -> str:
    if not versions:
        return f"no artifact {reference.partition(':')[0]!r} in {store_url}"
    return f"{reference} not found in {store_url} (the name has {versions} version(s))"
