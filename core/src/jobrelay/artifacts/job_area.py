"""A remote job's handoff area in its platform's job store, for both sides of the handoff.

A job that shares no filesystem with the client (Ray, a hosted cluster) reads its inputs
from, and writes its outputs to, a store it can reach: the platform's ``artifacts``
setting (``s3://bucket/jobs``, ``file:///shared/nfs``). In that store::

    .handoff/<token>/outputs/<name>         an output's bytes (a file, or a folder's tree)
    .handoff/<token>/.jobrelay/<name>.json  its record, written once the bytes are up
    .handoff/jobs/<job id>.json             {"token": ...}; plus "outputs" once collected

The job side (:func:`fetch_input`, :func:`upload_output`) is what :mod:`jobrelay.runtime`
imports when an input has no local path or ``$JOBRELAY_OUTPUTS`` is a URL. The client side
is :class:`JobArea`: it names the area before the submit, remembers it for the job, and
after the job succeeded turns each record into a version of the client's store, saves the
refs and removes the area. A second collect returns the saved refs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

# fsspec ships no type information; what we use of it is typed at this boundary.
import fsspec  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from jobrelay.artifacts.base import ArtifactStore, local_file_name, ref_to_json
from jobrelay.artifacts.blobstore import run_blocking
from jobrelay.artifacts.fsspec_store import FsspecArtifactStore
from jobrelay.artifacts.handoff import check_record
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.artifacts.registry import opened_store
from jobrelay.errors import ArtifactError, ConfigError
from jobrelay.models import ArtifactRef, JobRef
from jobrelay.runtime import RECORDS_DIR, HandoffError

__all__ = ["AREAS_DIR", "JobArea", "fetch_input", "safe_job_id", "upload_output"]

AREAS_DIR = ".handoff"
_OUTPUTS = "outputs"
_JOBS = "jobs"

T = TypeVar("T")


def safe_job_id(job_id: str) -> str:
    """A job id as one file name: anything but letters, digits, '-', '_', '.' becomes '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id)


# -- the job side ---------------------------------------------------------------------------


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end from synchronous job code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=target, name="jobrelay-handoff")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def fetch_input(name: str, entry: dict[str, Any], folder: Path) -> Path:
    """Fetch input ``name`` from the store its entry names into ``folder``, verified, under
    the name it was stored with (``folder/data.csv``; ``folder/<name>`` when none is known)."""
    store_url = entry.get("store")
    try:
        ref = ArtifactRef.model_validate(entry.get("ref"))
    except ValueError:
        raise HandoffError(f"input {name!r} has no valid ref to fetch") from None
    if not isinstance(store_url, str):
        raise HandoffError(f"input {name!r} names neither a path nor a store")

    async def fetch() -> Path:
        async with opened_store(store_url) as store:
            return await store.fetch(ref, folder / local_file_name(ref, name))

    return _run(fetch)


def upload_output(outputs_url: str, record: dict[str, Any], path: Path) -> None:
    """Upload the file or folder at ``path`` into the area, then its record.

    The record goes up last, so the client never sees a record whose bytes are missing.
    Logging a name again replaces both.
    """
    fs, root = fsspec.core.url_to_fs(outputs_url)
    root = root.rstrip("/")
    name = record["name"]
    target = f"{root}/{_OUTPUTS}/{name}"
    with contextlib.suppress(FileNotFoundError):
        fs.rm(target, recursive=True)
    if path.is_dir():
        fs.makedirs(target, exist_ok=True)
        fs.put(f"{path}/", target, recursive=True)
    else:
        fs.makedirs(f"{root}/{_OUTPUTS}", exist_ok=True)
        fs.put_file(str(path), target)
    body = {**record, "path": f"{_OUTPUTS}/{name}", "layout": "dir" if path.is_dir() else "file"}
    fs.makedirs(f"{root}/{RECORDS_DIR}", exist_ok=True)
    fs.pipe_file(f"{root}/{RECORDS_DIR}/{name}.json", json.dumps(body, sort_keys=True).encode())


# -- the client side --------------------------------------------------------------------------


def _filesystem(job_store: ArtifactStore) -> tuple[Any, str, str]:
    """(fsspec filesystem, root path, root URL) of the job store's handoff areas."""
    if isinstance(job_store, FsspecArtifactStore):
        root = f"{job_store.root}/{AREAS_DIR}"
        return job_store.fs, root, f"{job_store.url}/{AREAS_DIR}"
    if isinstance(job_store, LocalArtifactStore):
        root = f"{job_store.root}/{AREAS_DIR}"
        return LocalFileSystem(), root, root
    raise ConfigError(
        f"the job store {job_store.url} cannot hold a job's handoff area; give a folder or "
        "an fsspec URL its jobs can reach (s3://bucket/jobs, file:///shared/jobs)",
        field="artifacts",
    )


class JobArea:
    """The handoff areas of one job store, seen from the client."""

    def __init__(self, job_store: ArtifactStore) -> None:
        self.job_store = job_store
        self._fs, self._root, self._url = _filesystem(job_store)

    def outputs_url(self, token: str) -> str:
        """What the job gets as ``$JOBRELAY_OUTPUTS``: the URL of its area."""
        return f"{self._url}/{token}/"

    def _job_record(self, ref: JobRef) -> str:
        return f"{self._root}/{_JOBS}/{safe_job_id(ref.id)}.json"

    async def remember(self, ref: JobRef, token: str) -> None:
        """Record which area belongs to the job, for whoever collects its outputs later."""
        await run_blocking(self._write, self._job_record(ref), {"token": token})

    async def collect(self, ref: JobRef, store: ArtifactStore) -> dict[str, ArtifactRef]:
        """Put the job's recorded outputs into ``store`` as versions it produced.

        Idempotent: the refs are saved with the job's record before the area is removed,
        and a second call returns them. A job without a record has no outputs.
        """
        record = await run_blocking(self._read, self._job_record(ref))
        if record is None:
            return {}
        token = _token(record)
        if "outputs" in record:
            await run_blocking(self._remove_area, token)  # an earlier collect may have died
            return {n: ArtifactRef.model_validate(r) for n, r in record["outputs"].items()}
        refs: dict[str, ArtifactRef] = {}
        with tempfile.TemporaryDirectory(prefix="jobrelay-collect-") as tmp:
            for output in await run_blocking(self._records, token):
                local = await run_blocking(self._download, token, output, Path(tmp))
                refs[output["name"]] = await store.put(
                    output["name"],
                    local,
                    type=output["type"],
                    metadata=output["metadata"],
                    aliases=output["aliases"],
                    producer=ref,
                )
        saved = {"token": token, "outputs": {n: ref_to_json(r) for n, r in refs.items()}}
        await run_blocking(self._write, self._job_record(ref), saved)
        await run_blocking(self._remove_area, token)
        return refs

    async def discard(self, ref: JobRef) -> None:
        """Remove the area of a job that did not succeed (its outputs are not collected)."""
        record = await run_blocking(self._read, self._job_record(ref))
        if record is not None and "outputs" not in record:
            await run_blocking(self._remove_area, _token(record))
            await run_blocking(self._remove, self._job_record(ref))

    # -- blocking primitives -------------------------------------------------------------

    def _write(self, path: str, body: dict[str, Any]) -> None:
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self._fs.pipe_file(path, json.dumps(body, sort_keys=True).encode())

    def _read(self, path: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], json.loads(self._fs.cat_file(path)))
        except FileNotFoundError:
            return None

    def _remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm(path, recursive=True)

    def _remove_area(self, token: str) -> None:
        self._remove(f"{self._root}/{token}")

    def _records(self, token: str) -> list[dict[str, Any]]:
        folder = f"{self._root}/{token}/{RECORDS_DIR}"
        with contextlib.suppress(AttributeError):
            self._fs.invalidate_cache(folder)
        try:
            paths = sorted(str(p) for p in self._fs.ls(folder, detail=False))
        except FileNotFoundError:
            return []
        return [
            _check_record(path, self._read(path))
            for path in paths
            if path.endswith(".json") and not path.rsplit("/", 1)[-1].startswith(".")
        ]

    def _download(self, token: str, record: dict[str, Any], tmp: Path) -> Path:
        source = f"{self._root}/{token}/{record['path']}"
        dest: Path = tmp / str(record["name"])
        try:
            if record["layout"] == "dir":
                dest.mkdir()
                self._fs.get(f"{source}/", f"{dest}/", recursive=True)
            else:
                self._fs.get_file(source, str(dest))
        except FileNotFoundError:
            raise ArtifactError(
                f"output {record['name']!r} of the job is missing from {self._url}/{token}"
            ) from None
        return dest


def _token(record: dict[str, Any]) -> str:
    token = record.get("token")
    if not isinstance(token, str) or not token.isalnum():
        raise ArtifactError(f"a job record holds no valid handoff token: {record!r}")
    return token


def _check_record(path: str, record: Any) -> dict[str, Any]:
    try:
        checked = check_record(record, path.rsplit("/", 1)[-1])
        if checked["path"] != f"{_OUTPUTS}/{checked['name']}":
            raise ValueError(f"puts output {checked['name']!r} at {checked['path']!r}")
        if checked.get("layout") not in ("file", "dir"):
            raise ValueError(f"unknown layout {checked.get('layout')!r}")
    except ValueError as exc:
        raise ArtifactError(f"output record {path} is malformed: {exc}") from None
    return checked
