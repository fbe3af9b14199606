"""The emulator's in-memory world: projects, run queues and their items, runs, artifacts, blobs.

Plain data and the rules that change it, with no HTTP or GraphQL in sight: the resolvers call
these methods and translate :class:`EmulatorError` into a GraphQL ``errors`` entry.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

__all__ = [
    "LAUNCH_PROJECT",
    "ArtifactRecord",
    "Collection",
    "EmulatorError",
    "Item",
    "ProjectRecord",
    "Queue",
    "RunRecord",
    "World",
    "now_iso",
]

LAUNCH_PROJECT = "model-registry"
ALIVE_RUN_STATES = frozenset({"running", "pending", "preempting"})


class EmulatorError(Exception):
    """A request the real server would refuse; its text becomes ``errors[0].message``."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def gql_id(kind: str, *parts: object) -> str:
    """An opaque base64 id as W&B hands out (``base64("Run:v1:name:project:entity")``)."""
    return base64.b64encode(":".join([kind, *map(str, parts)]).encode()).decode()


@dataclass
class ProjectRecord:
    internal_id: int
    entity: str
    name: str

    @property
    def id(self) -> str:
        return gql_id("Project", self.internal_id)


@dataclass
class Item:
    id: str
    queue_id: str
    run_spec: str
    priority: int | None
    template_variable_values: str | None
    created_at: str
    seq: int
    state: str = "PENDING"
    associated_run_id: str | None = None
    error_message: str | None = None
    error_stage: str | None = None
    updated_at: str | None = None


@dataclass
class Queue:
    id: str
    entity: str
    project: str
    name: str
    access: str
    created_by: str
    prioritization_mode: str
    default_resource_config_id: str | None
    external_links: str | None = None
    items: dict[str, Item] = field(default_factory=dict)


@dataclass
class ResourceConfig:
    id: str
    entity: str
    resource: str
    config: str
    template_variables: dict[str, Any]


@dataclass
class RunFile:
    name: str
    storage_path: str
    mimetype: str = "text/plain"
    updated_at: str = field(default_factory=now_iso)


@dataclass
class RunRecord:
    entity: str
    project: str
    name: str
    state: str
    created_at: str
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    display_name: str | None = None
    job_type: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    exitcode: int | None = None
    stopped: bool = False
    heartbeat_at: str | None = None
    files: dict[str, RunFile] = field(default_factory=dict)
    output_artifacts: list[str] = field(default_factory=list)
    input_artifacts: list[str] = field(default_factory=list)
    # What the SDK's file stream sent: the lines of each streamed file (by line offset), and
    # for each file the number of lines it held before the stream's first chunk of it.
    stream_lines: dict[str, list[str]] = field(default_factory=dict)
    stream_base: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return gql_id("Run", "v1", self.name, self.project, self.entity)


@dataclass
class Collection:
    id: str
    entity: str
    project: str
    name: str
    type: str
    created_at: str
    versions: list[str] = field(default_factory=list)  # artifact ids by version index
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> artifact id


@dataclass
class ManifestEntry:
    digest: str
    size: int
    birth_artifact_id: str | None
    ref: str | None = None  # a reference entry: its bytes live at this URI


@dataclass
class ArtifactRecord:
    id: str
    number: int
    collection_id: str
    type: str
    digest: str
    created_at: str
    state: str = "PENDING"
    version_index: int | None = None
    metadata: str | None = None
    description: str | None = None
    run_name: str | None = None
    manifest_id: str | None = None
    manifest_path: str | None = None
    manifest_type: str = "FULL"  # INCREMENTAL: entries are added to the base version's
    base_artifact_id: str | None = None
    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    pending_files: dict[str, str] = field(default_factory=dict)  # name -> b64 md5
    aliases_requested: list[str] = field(default_factory=list)
    updated_at: str | None = None

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries.values())


class World:
    """Everything the emulated server knows. Every method holds the one lock."""

    def __init__(self, viewer_entity: str) -> None:
        self.lock = threading.RLock()
        self.viewer_entity = viewer_entity
        self.projects: dict[tuple[str, str], ProjectRecord] = {}
        self.queues: dict[str, Queue] = {}
        self.resource_configs: dict[str, ResourceConfig] = {}
        self.runs: dict[tuple[str, str, str], RunRecord] = {}
        self.collections: dict[str, Collection] = {}
        self.artifacts: dict[str, ArtifactRecord] = {}
        self.blobs: dict[str, bytes] = {}
        self._ids = itertools.count(1)

    def next_number(self) -> int:
        return next(self._ids)

    # -- projects ------------------------------------------------------------------------

    def project(self, entity: str, name: str, *, create: bool = False) -> ProjectRecord | None:
        with self.lock:
            key = (entity, name)
            if key not in self.projects and create:
                self.projects[key] = ProjectRecord(self.next_number(), entity, name)
            return self.projects.get(key)

    # -- queues --------------------------------------------------------------------------

    def queue_by_name(self, entity: str, project: str, name: str) -> Queue | None:
        with self.lock:
            return _named(self.queues.values(), entity, project, name)

    def create_queue(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        access: str = "PROJECT",
        prioritization_mode: str | None = None,
        default_resource_config_id: str | None = None,
        external_links: str | None = None,
    ) -> Queue:
        with self.lock:
            if self.queue_by_name(entity, project, name) is not None:
                raise EmulatorError(f"run queue {name!r} already exists in {entity}/{project}")
            if not 1 <= len(name) <= 64:
                raise EmulatorError("queue name must be 1-64 characters")
            self.project(entity, project, create=True)
            queue = Queue(
                id=gql_id("RunQueue", self.next_number()),
                entity=entity,
                project=project,
                name=name,
                access=access,
                created_by=self.viewer_entity,
                prioritization_mode=prioritization_mode or "DISABLED",
                default_resource_config_id=default_resource_config_id,
                external_links=external_links,
            )
            self.queues[queue.id] = queue
            return queue

    def push(
        self,
        queue: Queue,
        run_spec: str,
        *,
        priority: int | None,
        template_variable_values: str | None,
    ) -> Item:
        with self.lock:
            try:
                spec = json.loads(run_spec)
            except ValueError:
                raise EmulatorError("runSpec is not valid JSON") from None
            if not isinstance(spec, dict):
                raise EmulatorError("runSpec must be a JSON object")
            has_job = bool(spec.get("job"))
            has_image = bool((spec.get("docker") or {}).get("docker_image"))
            if has_job == has_image:
                raise EmulatorError(
                    "launch spec must set exactly one of job or docker.docker_image"
                )
            if priority is not None:
                if queue.prioritization_mode != "V0":
                    raise EmulatorError(f"run queue {queue.name!r} does not support prioritization")
                if not 0 <= priority <= 4:
                    raise EmulatorError("priority must be between 0 and 4")
            config = self.resource_configs.get(queue.default_resource_config_id or "")
            if config is not None and spec.get("resource") is None:
                spec["resource"] = config.resource
            number = self.next_number()
            item = Item(
                id=gql_id("RunQueueItem", number),
                queue_id=queue.id,
                run_spec=json.dumps(spec),
                priority=priority,
                template_variable_values=template_variable_values,
                created_at=now_iso(),
                seq=number,
            )
            queue.items[item.id] = item
            return item

    def find_item(self, item_id: str) -> tuple[Queue, Item] | None:
        with self.lock:
            for queue in self.queues.values():
                if item_id in queue.items:
                    return queue, queue.items[item_id]
            return None

    def pending_items(self, queue: Queue) -> list[Item]:
        """Pending items in the order the queue hands them out."""
        with self.lock:
            pending = [i for i in queue.items.values() if i.state == "PENDING"]
            if queue.prioritization_mode == "V0":
                return sorted(
                    pending, key=lambda i: (2 if i.priority is None else i.priority, i.seq)
                )
            return sorted(pending, key=lambda i: i.seq)

    def pop(self, queue: Queue) -> Item | None:
        with self.lock:
            pending = self.pending_items(queue)
            if not pending:
                return None
            item = pending[0]
            item.state = "LEASED"
            item.updated_at = now_iso()
            return item

    def ack(self, item_id: str, run_name: str) -> None:
        with self.lock:
            found = self.find_item(item_id)
            if found is None or found[1].state != "LEASED":
                raise EmulatorError(f"run queue item {item_id} is not leased")
            found[1].state = "CLAIMED"
            found[1].associated_run_id = run_name
            found[1].updated_at = now_iso()

    def fail_item(self, item_id: str, message: str, stage: str) -> None:
        with self.lock:
            found = self.find_item(item_id)
            if found is None:
                raise EmulatorError(f"run queue item {item_id} not found")
            item = found[1]
            item.state, item.error_message, item.error_stage = "FAILED", message, stage
            item.updated_at = now_iso()

    def delete_item(self, queue_id: str, item_id: str) -> None:
        with self.lock:
            queue = self.queues.get(queue_id)
            if queue is None:
                raise EmulatorError(f"run queue {queue_id} not found")
            if queue.items.pop(item_id, None) is None:
                raise EmulatorError(f"run queue item {item_id} not found")

    # -- runs ----------------------------------------------------------------------------

    def run(self, entity: str, project: str, name: str) -> RunRecord | None:
        with self.lock:
            return self.runs.get((entity, project, name))

    def run_by_id(self, run_id: str) -> RunRecord | None:
        with self.lock:
            for run in self.runs.values():
                if run.id == run_id:
                    return run
            return None

    def upsert_run(
        self, entity: str, project: str, name: str, **fields: Any
    ) -> tuple[RunRecord, bool]:
        with self.lock:
            self.project(entity, project, create=True)
            key = (entity, project, name)
            inserted = key not in self.runs
            if inserted:
                self.runs[key] = RunRecord(
                    entity, project, name, state="running", created_at=now_iso()
                )
            run = self.runs[key]
            for attr, value in fields.items():
                if value is not None:
                    setattr(run, attr, value)
            run.heartbeat_at = now_iso()
            return run, inserted

    def finish_run(self, run: RunRecord, state: str, exitcode: int | None = None) -> None:
        with self.lock:
            run.state = state
            run.exitcode = exitcode
            run.heartbeat_at = now_iso()

    def append_run_file(self, run: RunRecord, name: str, data: bytes) -> None:
        with self.lock:
            path = self.run_file(run, name).storage_path
            self.blobs[path] = self.blobs.get(path, b"") + data
            run.files[name].updated_at = now_iso()

    def run_file(self, run: RunRecord, name: str) -> RunFile:
        with self.lock:
            if name not in run.files:
                path = f"runs/{run.entity}/{run.project}/{run.name}/{name}"
                run.files[name] = RunFile(name, path)
                self.blobs.setdefault(path, b"")
            return run.files[name]

    # -- artifacts -----------------------------------------------------------------------

    def collection(self, entity: str, project: str, name: str) -> Collection | None:
        with self.lock:
            return _named(self.collections.values(), entity, project, name)

    def resolve_artifact(
        self, entity: str, project: str, name: str, alias: str
    ) -> ArtifactRecord | None:
        with self.lock:
            coll = self.collection(entity, project, name)
            if coll is None:
                return None
            artifact_id = coll.aliases.get(alias)
            if artifact_id is None and alias.startswith("v") and alias[1:].isdigit():
                index = int(alias[1:])
                artifact_id = coll.versions[index] if index < len(coll.versions) else None
            return self.artifacts.get(artifact_id or "")

    def aliases_of(self, artifact: ArtifactRecord) -> list[str]:
        with self.lock:
            coll = self.collections[artifact.collection_id]
            return [alias for alias, aid in coll.aliases.items() if aid == artifact.id]


class _InProject(Protocol):
    entity: str
    project: str
    name: str


_T = TypeVar("_T", bound=_InProject)


def _named(records: Iterable[_T], entity: str, project: str, name: str) -> _T | None:
    """The record called ``name`` in ``entity/project``, if any (names are unique there)."""
    return next(
        (r for r in records if (r.entity, r.project, r.name) == (entity, project, name)), None
    )
