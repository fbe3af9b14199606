"""Read-side views of runs: the ``Run`` type (state, config, summary, history, files, artifacts)
and the project's run listing with its filters.

History and summary come from what the run's file stream sent (``file_stream.py``); a run made
by the simulated agent without the SDK has only what its :class:`Outcome` scripted.
"""

from __future__ import annotations

import json
import re
from typing import Any, Unpack

from jobrelay_emulators.wandb.resolvers import (
    Context,
    Info,
    Page,
    ProjectView,
    artifact_view,
    b64md5,
    connection,
    file_view,
    project_view,
)
from jobrelay_emulators.wandb.state import RunRecord

__all__ = ["RunView"]


def _history_keys(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for row in rows:
        for key, value in row.items():
            kind = type(value).__name__
            keys.setdefault(key, {"typeCounts": [{"type": kind, "count": 0}]})
            keys[key]["typeCounts"][0]["count"] += 1
    last = max((int(r.get("_step", i)) for i, r in enumerate(rows)), default=-1)
    return {"lastStep": last, "keys": keys}


class RunView:
    def __init__(self, context: Context, run: RunRecord) -> None:
        self._c, self._r = context, run
        project = context.world.project(run.entity, run.project)
        self.id, self.name = run.id, run.name
        self.projectId = str(project.internal_id) if project else "0"
        self.tags, self.displayName, self.sweepName = run.tags, run.display_name or run.name, None
        self.state, self.group, self.jobType = run.state, None, run.job_type
        self.commit, self.readOnly, self.createdAt = None, False, run.created_at
        self.heartbeatAt, self.description, self.notes = run.heartbeat_at, None, run.notes
        self.config = json.dumps({k: {"value": v, "desc": None} for k, v in run.config.items()})
        self.systemMetrics, self.summaryMetrics = "{}", json.dumps(run.summary)
        self.historyLineCount = len(run.history)
        self.eventsLineCount = len(run.events)
        self.logLineCount = len(run.stream_lines.get("output.log", []))
        self.historyTail = json.dumps([json.dumps(r) for r in run.history[-10:]])
        self.eventsTail = json.dumps([json.dumps(r) for r in run.events[-10:]])
        self.user = {"name": context.world.viewer_entity, "username": context.world.viewer_entity}
        self.historyKeys = _history_keys(run.history)
        self.exitcode, self.stopped = run.exitcode, run.stopped
        self.shouldStop, self.fileCount = run.stopped, len(run.files)

    @property
    def project(self) -> ProjectView | None:
        return project_view(self._c, self._r.entity, self._r.project)

    def wandbConfig(self, info: Info, keys: list[str] | None = None) -> str:
        """The SDK's internal ``_wandb`` config (what a resumed run reads back)."""
        internal = self._r.config.get("_wandb") or {}
        if not isinstance(internal, dict):
            internal = {}
        return json.dumps({k: v for k, v in internal.items() if not keys or k in keys})

    def history(
        self,
        info: Info,
        samples: int | None = None,
        minStep: int | None = None,
        maxStep: int | None = None,
    ) -> list[str]:
        rows = [
            r
            for i, r in enumerate(self._r.history)
            if (minStep is None or int(r.get("_step", i)) >= minStep)
            and (maxStep is None or int(r.get("_step", i)) < maxStep)
        ]
        return [json.dumps(r) for r in rows[: samples or None]]

    def events(self, info: Info, samples: int | None = None) -> list[str]:
        return [json.dumps(r) for r in self._r.events[: samples or None]]

    def sampledHistory(self, info: Info, specs: list[str]) -> list[list[dict[str, Any]]]:
        out = []
        for text in specs:
            spec = json.loads(text)
            keys = list(spec.get("keys") or [])
            rows = [
                {k: r[k] for k in keys if k in r}
                for r in self._r.history
                if any(k in r for k in keys if k != "_step")
            ]
            out.append(rows[: int(spec.get("samples") or len(rows) or 1)])
        return out

    def parquetHistory(self, info: Info, liveKeys: list[str]) -> dict[str, Any]:
        """No exported parquet files: every row is live data (a run still being written)."""
        return {"parquetUrls": [], "liveData": list(self._r.history)}

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        pattern: str | None = None,
        **page: Unpack[Page],
    ) -> dict[str, Any]:
        world, run = self._c.world, self._r
        with world.lock:
            chosen = [f for f in run.files.values() if not names or f.name in names]
            if pattern and not names:
                chosen = [f for f in chosen if _like(f.name, pattern)]
            base = self._c.base_url
            nodes = [
                file_view(
                    self._c,
                    name=f.name,
                    storage_path=f.storage_path,
                    md5=b64md5(world.blobs.get(f.storage_path, b"")),
                    size=len(world.blobs.get(f.storage_path, b"")),
                    api_url=f"{base}/files/{run.entity}/{run.project}/{run.name}/{f.name}",
                    mimetype=f.mimetype,
                    updated_at=f.updated_at,
                )
                for f in chosen
            ]
        return connection(nodes, page)

    def outputArtifacts(self, info: Info, **page: Unpack[Page]) -> dict[str, Any]:
        return self._artifacts(self._r.output_artifacts, page)

    def inputArtifacts(self, info: Info, **page: Unpack[Page]) -> dict[str, Any]:
        return self._artifacts(self._r.input_artifacts, page)

    def _artifacts(self, ids: list[str], page: Page) -> dict[str, Any]:
        arts = [self._c.world.artifacts[a] for a in ids]
        return connection([artifact_view(self._c, a) for a in arts], page)


def _like(name: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name) is not None
