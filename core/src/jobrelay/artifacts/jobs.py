"""The client's side of artifact handoff: one folder per submitted job.

Before a submit the client gives the job a folder (``<handoff root>/<token>``), resolves
and materializes its inputs there (:func:`prepare_inputs`), and passes both through the
job's environment. Right after the submit it records which folder belongs to which job
(``<handoff root>/jobs/<job id>``), so any process that later waits on the job — a CLI
``wait``, a retried Airflow task, a deferred trigger — can collect its outputs once it has
succeeded. Collection is idempotent (``collect_outputs`` saves what it stored).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.blobstore import run_blocking
from jobrelay.artifacts.handoff import collect_outputs, prepare_inputs, record_inputs_consumed
from jobrelay.artifacts.localfs import write_atomic
from jobrelay.artifacts.staging import open_store, resolve_store_url
from jobrelay.models import ArtifactRef, JobRef, JobSpec
from jobrelay.settings import default_local_home

__all__ = ["JobHandoff", "default_handoff"]


def default_handoff(platform_url: str, store: str | ArtifactStore | None = None) -> JobHandoff:
    """The handoff for jobs on ``platform_url``.

    A ``local:///home`` platform keeps artifacts and job folders in its home, so they are
    where its agents run. Other platforms use ``store`` (or ``$JOBRELAY_ARTIFACTS``, else
    the default local store) and folders under the default local home, which suits a
    cluster that shares this machine's filesystem.
    """
    if platform_url.startswith("local://"):
        home = Path(platform_url.removeprefix("local://").split("?", 1)[0] or default_local_home())
        return JobHandoff(_open(store, platform_url), home / "handoff")
    return JobHandoff(_open(store, resolve_store_url()), default_local_home() / "handoff")


def _open(store: str | ArtifactStore | None, fallback_url: str) -> ArtifactStore:
    if store is None:
        return open_store(fallback_url)
    return open_store(store) if isinstance(store, str) else store


class JobHandoff:
    """Prepares inputs before a submit and collects outputs after success, for one store."""

    def __init__(self, store: ArtifactStore, root: Path) -> None:
        self.store = store
        self.root = root

    async def prepare(self, spec: JobSpec) -> tuple[JobSpec, str]:
        """The spec with the handoff variables added to its env, and the folder's token."""
        token = secrets.token_hex(8)
        env = await prepare_inputs(spec.inputs, self.store, self.root / token)
        return spec.model_copy(update={"env": {**spec.env, **env}}), token

    async def submitted(self, spec: JobSpec, token: str, ref: JobRef) -> None:
        """Remember the job's folder and record the job as the consumer of its inputs."""
        await run_blocking(write_atomic, self._record(ref), token.encode())
        await record_inputs_consumed(spec.env, self.store, ref)

    async def outputs(self, ref: JobRef) -> dict[str, ArtifactRef]:
        """The artifacts the job logged, stored with the job as their producer."""
        token = await run_blocking(_read_token, self._record(ref))
        if token is None:  # submitted without jobrelay's handoff (or by another tool)
            return {}
        return await collect_outputs(self.root / token / "outputs", self.store, ref)

    def _record(self, ref: JobRef) -> Path:
        safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in ref.id)
        return self.root / "jobs" / safe_id


def _read_token(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    return token if token.isalnum() else None
