"""The client's side of artifact handoff, for each way a platform's jobs reach artifacts.

:func:`handoff_for` picks it from what the platform declares:

* ``capabilities.native_artifacts`` (W&B, Fused): the platform keeps its jobs' outputs;
  :class:`NativeHandoff` stages inputs held in another store into the platform's own
  (``platform.artifact_store()``), so a Ray job's output can be a W&B job's input. W&B's
  status carries its outputs; a platform that reports result files instead (Fused:
  :class:`~jobrelay.platforms.results.ResultFiles`) gets them stored by the handoff, in
  that store. A native platform without a store of its own gets ``None``.
* ``capabilities.shared_filesystem`` (the local platform): :class:`FolderHandoff`, a folder
  per job (``<handoff root>/<token>``) that its inputs are materialized in and its outputs
  recorded in. The job reads and writes local paths; nothing needs setting up.
* ``platform.job_store`` (a store URL its jobs can reach, from the platform's ``artifacts``
  setting), else the client's store when it is not a jobrelay home on this machine
  (``AsyncClient(url, artifacts="s3://bucket/jobs")``): :class:`StoreHandoff`. Inputs are
  staged into the job store, the job gets refs and the store URL (no path) and an area of
  the job store for its outputs (:mod:`jobrelay.artifacts.job_area`). The client creates
  nothing on its own disk.
* none of these: :class:`NoHandoff`. A job without inputs runs as it is (and
  ``runtime.log_output`` in it says it needs a store); one with inputs is a ``ConfigError``.

Right after the submit the handoff records which folder or area belongs to which job, so any
process that later waits on it (a CLI ``wait``, a retried Airflow task, a deferred trigger)
collects its outputs once it has succeeded. Collection is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import ArtifactStore, check_name, ref_to_json
from jobrelay.artifacts.handoff import (
    collect_outputs,
    pin_input,
    prepare_inputs,
    record_inputs_consumed,
)
from jobrelay.artifacts.job_area import JobArea, safe_job_id
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.artifacts.localfs import write_atomic
from jobrelay.artifacts.registry import open_store
from jobrelay.artifacts.staging import resolve_store_url
from jobrelay.errors import ConfigError
from jobrelay.models import ArtifactRef, JobRef, JobSpec
from jobrelay.platforms._bounded import Bounded
from jobrelay.platforms.base import Platform
from jobrelay.platforms.results import NOTE_CHARS, ResultFiles
from jobrelay.runtime import INPUTS_ENV, OUTPUTS_ENV
from jobrelay.urls import default_local_home

__all__ = [
    "FolderHandoff",
    "JobHandoff",
    "NativeHandoff",
    "NoHandoff",
    "StoreHandoff",
    "handoff_for",
]

log = logging.getLogger(__name__)

COLLECTED_JOBS = 4096  # jobs whose collected result files a handoff remembers (LRU)


class JobHandoff(Protocol):
    """What the client runs around one job; ``store`` holds the versions it resolves/makes."""

    store: ArtifactStore

    def check(self, spec: JobSpec) -> None:
        """``ConfigError`` for inputs this handoff cannot give the job (before any request)."""
        ...

    async def prepare(self, spec: JobSpec) -> tuple[JobSpec, str]:
        """The spec with the handoff variables added to its env, and a token for the job."""
        ...

    async def submitted(self, spec: JobSpec, token: str, ref: JobRef) -> None:
        """Remember the job's handoff and record the job as the consumer of its inputs."""
        ...

    async def outputs(self, ref: JobRef) -> dict[str, ArtifactRef]:
        """The artifacts the job logged, stored with the job as their producer."""
        ...

    async def discard(self, ref: JobRef) -> None:
        """Forget what a job that did not succeed left for collection (best effort)."""
        ...


def handoff_for(platform: Platform, store: str | ArtifactStore | None = None) -> JobHandoff | None:
    """The handoff for jobs on ``platform``; ``store`` is the client's store (or its URL).

    Without one: ``$JOBRELAY_ARTIFACTS``, else the platform's job store, else the local
    platform's store (for ``local:///home``, the one in that home).
    """
    capabilities = platform.capabilities
    if capabilities.native_artifacts:
        native = getattr(platform, "artifact_store", None)
        if native is None:
            return None
        return NativeHandoff(native(), platform if isinstance(platform, ResultFiles) else None)
    local_home = _local_home(platform.url)
    if capabilities.shared_filesystem:
        home = local_home or default_local_home()
        url = platform.url if local_home is not None else resolve_store_url()
        return FolderHandoff(_open(store, url), home / "handoff")
    job_store_url: str | None = getattr(platform, "job_store", None)
    if not job_store_url:
        client_store = _open(store, resolve_store_url())
        if isinstance(client_store, LocalArtifactStore):
            return NoHandoff(client_store, platform.url)
        # The client's store, when it is not a jobrelay home on this machine (s3://,
        # gs://, file:// on a shared mount; given or from $JOBRELAY_ARTIFACTS): jobs use it.
        return StoreHandoff(client_store, client_store)
    job_store = open_store(job_store_url)
    client_store = _open(store, resolve_store_url(default=job_store.url))
    return StoreHandoff(job_store if client_store.url == job_store.url else client_store, job_store)


def _local_home(platform_url: str) -> Path | None:
    if not platform_url.startswith("local://"):
        return None
    return Path(platform_url.removeprefix("local://").split("?", 1)[0] or default_local_home())


def _open(store: str | ArtifactStore | None, fallback_url: str) -> ArtifactStore:
    if store is None:
        return open_store(fallback_url)
    return open_store(store) if isinstance(store, str) else store


class FolderHandoff:
    """A folder per job on a filesystem the job shares with the client."""

    def __init__(self, store: ArtifactStore, root: Path) -> None:
        self.store = store
        self.root = root

    def check(self, spec: JobSpec) -> None:
        """Any input can be handed over as a local path."""

    async def prepare(self, spec: JobSpec) -> tuple[JobSpec, str]:
        token = secrets.token_hex(8)
        env = await prepare_inputs(spec.inputs, self.store, self.root / token)
        return spec.model_copy(update={"env": {**spec.env, **env}}), token

    async def submitted(self, spec: JobSpec, token: str, ref: JobRef) -> None:
        await run_blocking(write_atomic, self._record(ref), token.encode())
        await record_inputs_consumed(spec.env, self.store, ref)

    async def outputs(self, ref: JobRef) -> dict[str, ArtifactRef]:
        token = await run_blocking(_read_token, self._record(ref))
        if token is None:  # submitted without jobrelay's handoff (or by another tool)
            return {}
        return await collect_outputs(self.root / token / "outputs", self.store, ref)

    async def discard(self, ref: JobRef) -> None:
        """Nothing: the folder is the job's to read back, on this machine."""

    def _record(self, ref: JobRef) -> Path:
        return self.root / "jobs" / safe_job_id(ref.id)


def _read_token(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    return token if token.isalnum() else None


class StoreHandoff:
    """Inputs and outputs through a store the platform's jobs reach; no client-side path."""

    def __init__(self, store: ArtifactStore, job_store: ArtifactStore) -> None:
        self.store = store
        self.job_store = job_store
        self.area = JobArea(job_store)

    def check(self, spec: JobSpec) -> None:
        """Any input can be staged into the job store."""

    async def prepare(self, spec: JobSpec) -> tuple[JobSpec, str]:
        token = secrets.token_hex(8)
        entries = {}
        for name, item in spec.inputs.items():
            check_name(name)
            ref = await pin_input(item, self.store, self.job_store)
            entries[name] = {"ref": ref_to_json(ref), "store": self.job_store.url}
        env = {
            INPUTS_ENV: json.dumps(entries, sort_keys=True),
            OUTPUTS_ENV: self.area.outputs_url(token),
        }
        return spec.model_copy(update={"env": {**spec.env, **env}}), token

    async def submitted(self, spec: JobSpec, token: str, ref: JobRef) -> None:
        await self.area.remember(ref, token)
        await record_inputs_consumed(spec.env, self.job_store, ref)

    async def outputs(self, ref: JobRef) -> dict[str, ArtifactRef]:
        return await self.area.collect(ref, self.store)

    async def discard(self, ref: JobRef) -> None:
        with contextlib.suppress(Exception):  # cleanup must never hide the job's own end
            await self.area.discard(ref)


class NoHandoff:
    """A platform whose jobs can reach no store the client knows of."""

    def __init__(self, store: ArtifactStore, platform_url: str) -> None:
        self.store = store
        self._platform_url = platform_url

    def check(self, spec: JobSpec) -> None:
        if spec.inputs:
            name = sorted(spec.inputs)[0]
            raise ConfigError(
                f"jobs on {self._platform_url} share no filesystem with this machine, so "
                "their inputs need an artifacts store they can reach; set the platform's "
                "artifacts setting (e.g. ?artifacts=s3://bucket/jobs)",
                field=f"inputs.{name}",
            )

    async def prepare(self, spec: JobSpec) -> tuple[JobSpec, str]:
        self.check(spec)
        return spec, ""

    async def submitted(self, spec: JobSpec, token: str, ref: JobRef) -> None:
        """Nothing to remember."""

    async def outputs(self, ref: JobRef) -> dict[str, ArtifactRef]:
        return {}

    async def discard(self, ref: JobRef) -> None:
        """Nothing was left."""


class NativeHandoff:
    """A platform that keeps its jobs' outputs: it reports them in their status (W&B) or
    reports their result files, which are stored here (Fused).

    An input held in another store (an ``ArtifactRef`` or URI of a Ray job's output, a
    local version) is staged into the platform's store first, once per digest; a bare
    reference (``"team/data/train:best"``) is the platform's to resolve.

    ``results`` (the platform, when it reports result files): a succeeded job's files are
    read and put in ``store`` with the job as their producer, once per job in this process
    (a later ``result()`` or wait gets the same refs without a download; the last
    :data:`COLLECTED_JOBS` jobs are remembered), and as the same versions from any other
    process (a store keeps one version per content).
    """

    def __init__(self, store: ArtifactStore, results: ResultFiles | None = None) -> None:
        self.store = store
        self._results = results
        self._collected: Bounded[str, dict[str, ArtifactRef]] = Bounded(COLLECTED_JOBS)
        self._collecting: Bounded[str, asyncio.Lock] = Bounded(COLLECTED_JOBS)

    def check(self, spec: JobSpec) -> None:
        """Any input can be staged into the platform's store."""

    async def prepare(self, spec: JobSpec) -> tuple[JobSpec, str]:
        inputs: dict[str, ArtifactRef | str] = {}
        for name, item in spec.inputs.items():
            check_name(name)
            uri = item.uri if isinstance(item, ArtifactRef) else item
            foreign = "#" in uri and not uri.startswith(f"{self.store.url}#")
            inputs[name] = await pin_input(item, self.store, self.store) if foreign else item
        return spec.model_copy(update={"inputs": inputs}), ""

    async def submitted(self, spec: JobSpec, token: str, ref: JobRef) -> None:
        """Nothing: the platform records what its run used."""

    async def outputs(self, ref: JobRef) -> dict[str, ArtifactRef]:
        if self._results is None:
            return {}  # the platform's status carries them
        async with self._collecting.setdefault(ref.id, asyncio.Lock()):
            if ref.id not in self._collected:
                self._collected[ref.id] = await _collect_results(self._results, ref, self.store)
            return dict(self._collected[ref.id])

    async def discard(self, ref: JobRef) -> None:
        """Nothing was left."""


async def _collect_results(
    source: ResultFiles, ref: JobRef, store: ArtifactStore
) -> dict[str, ArtifactRef]:
    """Each result file of the job ``source`` reports, read and put in ``store``."""
    outputs: dict[str, ArtifactRef] = {}
    with tempfile.TemporaryDirectory(prefix="jobrelay-results-") as tmp:
        for file in await source.results(ref):
            path = Path(tmp) / (Path(file.name).name or "result")
            await run_blocking(path.write_bytes, await source.read_result(file.url, file.name))
            metadata = dict(file.metadata)
            for key, url in file.notes.items():
                note = await source.read_result(url, f"{file.name} ({key})")
                metadata[key] = note.decode("utf-8", "replace")[:NOTE_CHARS]
            outputs[file.name] = await store.put(
                file.artifact, path, metadata=metadata, producer=ref
            )
    return outputs
