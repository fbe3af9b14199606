"""A remote job's handoff area in its platform's job store: the client's side of it.

A job that shares no filesystem with the client (Ray, a hosted cluster) reads its inputs
from, and writes its outputs to, a store it can reach: the platform's ``artifacts``
setting (``s3://bucket/jobs``, ``file:///shared/nfs``). In that store::

    .handoff/<token>/outputs/<name>         an output's bytes (a file, or a folder's tree)
    .handoff/<token>/.jobrelay/<name>.json  its record, written once the bytes are up
    .handoff/jobs/<job id>.json             {"token": ...}; plus "outputs" once collected

The job side is :mod:`jobrelay.artifacts.job_side`. The client side, here, is
:class:`JobArea`: it names the area before the submit, remembers it for the job, and after
the job succeeded turns each record into a version of the client's store, saves the refs
and removes the area. A second collect returns the saved refs.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any, cast

# fsspec ships no type information; what we use of it is typed at this boundary.
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import ArtifactStore, ref_to_json
from jobrelay.artifacts.fsspec_store import FsspecArtifactStore
from jobrelay.artifacts.handoff import check_record
from jobrelay.artifacts.job_side import OUTPUTS_DIR
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.errors import ArtifactError, ConfigError
from jobrelay.models import ArtifactRef, JobRef
from jobrelay.runtime import RECORDS_DIR

__all__ = ["AREAS_DIR", "JobArea", "safe_job_id"]

AREAS_DIR = ".handoff"
_JOBS = "jobs"


def safe_job_id(job_id: str) -> str:
    """A job id as one file name: anything but letters, digits, '-', '_', '.' becomes '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id)


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
        """What the job gets as ``$JOBRELAYOUTPUTS_DIR``: the URL of its area."""
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
        if checked["path"] != f"{OUTPUTS_DIR}/{checked['name']}":
            raise ValueError(f"puts output {checked['name']!r} at {checked['path']!r}")
        if checked.get("layout") not in ("file", "dir"):
            raise ValueError(f"unknown layout {checked.get('layout')!r}")
    except ValueError as exc:
        raise ArtifactError(f"output record {path} is malformed: {exc}") from None
    return checked
