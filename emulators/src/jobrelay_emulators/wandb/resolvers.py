"""Read-side GraphQL resolvers: views over the emulator's world, one class per schema type.

graphql-core's default resolver reads an attribute named like the field, and calls it with
the field's arguments when it is a method, so each view is a plain class whose attribute and
method names are the schema's field names.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from graphql import GraphQLResolveInfo

from jobrelay_emulators.wandb.run_filters import project_runs
from jobrelay_emulators.wandb.state import (
    ArtifactRecord,
    Collection,
    Item,
    ProjectRecord,
    Queue,
    RunRecord,
    World,
    gql_id,
)
from jobrelay_emulators.wandb.storage import StorageSigner

__all__ = [
    "Context",
    "Page",
    "QueryRoot",
    "artifact_view",
    "b64md5",
    "connection",
    "file_view",
    "item_view",
    "project_view",
]

Info = GraphQLResolveInfo


@dataclass
class Context:
    """What every resolver may use: the world, storage URLs and who is asking.

    ``run_view`` makes the ``Run`` view of a run record (``run_views.RunView``); it is passed
    in because that view links back to projects and artifacts, which would make the two
    modules import each other.
    """

    world: World
    storage: StorageSigner
    base_url: str
    run_view: Callable[[Context, RunRecord], Any]


def ctx(info: Info) -> Context:
    context: Context = info.context
    return context


class Page(TypedDict, total=False):
    """The arguments of a listing field (a Relay connection), as graphql-core passes them to
    its resolver: the page, and an ``order`` and ``filters`` that only
    ``Project.runs`` applies (every other listing keeps its records' own order)."""

    first: int | None
    after: str | None
    order: str | None
    filters: str | None


def connection(nodes: list[Any], page: Page | None = None) -> dict[str, Any]:
    """A Relay connection over ``nodes``, the ``first`` of them after cursor ``after``; the
    cursor is the index as text."""
    args: Page = page or {}
    first, after = args.get("first"), args.get("after")
    start = int(after) + 1 if after not in (None, "") else 0
    end = len(nodes) if first is None else min(len(nodes), start + first)
    shown = nodes[start:end]
    return {
        "totalCount": len(nodes),
        "edges": [{"node": node, "cursor": str(start + i)} for i, node in enumerate(shown)],
        "pageInfo": {
            "endCursor": str(end - 1) if shown else after,
            "hasNextPage": end < len(nodes),
            "startCursor": str(start) if shown else None,
            "hasPreviousPage": start > 0,
        },
    }


def file_view(
    context: Context,
    *,
    name: str,
    storage_path: str,
    md5: str | None,
    size: int,
    api_url: str | None = None,
    mimetype: str | None = None,
    updated_at: str | None = None,
    artifact: ArtifactRecord | None = None,
) -> dict[str, Any]:
    return {
        "id": gql_id("File", storage_path),
        "name": name,
        "displayName": name,
        "url": lambda info, upload=False: api_url or context.storage.download_url(storage_path),
        "directUrl": context.storage.download_url(storage_path),
        "uploadUrl": None,
        "uploadHeaders": [],
        "uploadMultipartUrls": None,
        "storagePath": storage_path,
        "sizeBytes": size,
        "mimetype": mimetype,
        "updatedAt": updated_at,
        "md5": md5,
        "digest": md5,
        "artifact": artifact_view(context, artifact) if artifact else None,
    }


def item_view(item: Item) -> dict[str, Any]:
    error: dict[str, Any] | None = None
    if item.error_message is not None:
        error = {"message": item.error_message, "stage": item.error_stage, "filePaths": []}
    return {
        "id": item.id,
        "state": item.state,
        "associatedRunId": item.associated_run_id,
        "runSpec": item.run_spec,
        "priority": item.priority,
        "templateVariableValues": item.template_variable_values,
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
        "error": error,
    }


class QueueView:
    def __init__(self, context: Context, queue: Queue) -> None:
        self._c, self._q = context, queue
        self.id, self.name, self.access = queue.id, queue.name, queue.access
        self.createdBy, self.entityName, self.projectName = (
            queue.created_by,
            queue.entity,
            queue.project,
        )
        self.defaultResourceConfigID = queue.default_resource_config_id
        self.prioritizationMode = queue.prioritization_mode
        self.externalLinks = queue.external_links

    def runQueueItem(self, info: Info, id: str) -> dict[str, Any] | None:
        item = self._q.items.get(id)
        return item_view(item) if item else None

    def runQueueItems(self, info: Info, **page: Unpack[Page]) -> dict[str, Any]:
        with self._c.world.lock:
            items = sorted(self._q.items.values(), key=lambda i: i.seq)
            return connection([item_view(i) for i in items], page)


def b64md5(data: bytes) -> str:
    """The base64 MD5 of ``data``, as W&B gives a file's ``md5``."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def project_view(context: Context, entity: str, name: str) -> ProjectView | None:
    """The ``Project`` view of ``entity/name``, or ``None`` when there is no such project."""
    record = context.world.project(entity, name)
    return ProjectView(context, record) if record else None


def membership_view(
    context: Context, entity: str, project: str, collection: str, alias: str
) -> MembershipView | None:
    """The membership of the version ``alias`` names, or ``None`` unless it is committed."""
    artifact = context.world.resolve_artifact(entity, project, collection, alias)
    if artifact is None or artifact.state != "COMMITTED":
        return None
    return MembershipView(context, artifact)


class CollectionView:
    def __init__(self, context: Context, coll: Collection) -> None:
        self._c, self._coll = context, coll
        self.id, self.name, self.description = coll.id, coll.name, None
        self.createdAt, self.updatedAt, self.state = coll.created_at, None, "READY"
        self.digestAlgorithm = "MANIFEST_MD5"
        self.project = project_view(context, coll.entity, coll.project)
        self.defaultArtifactType = {"name": coll.type}

    def artifacts(self, info: Info, **page: Unpack[Page]) -> dict[str, Any]:
        world = self._c.world
        with world.lock:
            versions = [world.artifacts[a] for a in self._coll.versions]
        listing = connection([ArtifactView(self._c, a) for a in versions], page)
        for edge in listing["edges"]:
            edge["version"] = f"v{edge['node'].versionIndex}"
        return listing

    @property
    def latestArtifact(self) -> ArtifactView | None:
        aid = self._coll.aliases.get("latest")
        return ArtifactView(self._c, self._c.world.artifacts[aid]) if aid else None

    def artifactMembership(self, info: Info, aliasName: str) -> MembershipView | None:
        coll = self._coll
        return membership_view(self._c, coll.entity, coll.project, coll.name, aliasName)


def artifact_view(context: Context, artifact: ArtifactRecord) -> ArtifactView:
    return ArtifactView(context, artifact)


def _alias_views(context: Context, artifact: ArtifactRecord) -> list[dict[str, Any]]:
    coll = context.world.collections[artifact.collection_id]
    return [
        {
            "id": gql_id("ArtifactAlias", artifact.number, alias),
            "alias": alias,
            "artifactCollection": CollectionView(context, coll),
        }
        for alias in context.world.aliases_of(artifact)
    ]


def _artifact_files(
    context: Context, artifact: ArtifactRecord, names: list[str] | None
) -> list[dict[str, Any]]:
    from jobrelay_emulators.wandb.artifact_ops import blob_path

    coll = context.world.collections[artifact.collection_id]
    return [
        file_view(
            context,
            name=path,
            storage_path=blob_path(coll.entity, entry.digest),
            md5=entry.digest,
            size=entry.size,
            updated_at=artifact.updated_at,
        )
        for path, entry in sorted(artifact.entries.items())
        if (not names or path in names) and entry.ref is None  # a reference is not stored
    ]


class _VersionFiles:
    """The ``files`` listing of an artifact version (``Artifact`` and its membership)."""

    _c: Context
    _a: ArtifactRecord

    def files(
        self, info: Info, names: list[str] | None = None, **page: Unpack[Page]
    ) -> dict[str, Any]:
        return connection(_artifact_files(self._c, self._a, names), page)


class ArtifactView(_VersionFiles):
    def __init__(self, context: Context, artifact: ArtifactRecord) -> None:
        self._c, self._a = context, artifact
        coll = context.world.collections[artifact.collection_id]
        self.id, self.versionIndex = artifact.id, artifact.version_index
        self.artifactSequence = CollectionView(context, coll)
        self.artifactType = {"name": artifact.type}
        self.description, self.metadata = artifact.description, artifact.metadata or "{}"
        self.ttlDurationSeconds, self.ttlIsInherited = -1, True
        self.tags: list[dict[str, str]] = []
        self.historyStep, self.state, self.size = None, artifact.state, artifact.size
        self.digest, self.digestAlgorithm = artifact.digest, "MANIFEST_MD5"
        self.commitHash = artifact.digest[:12] if artifact.state == "COMMITTED" else None
        self.fileCount, self.createdAt = len(artifact.entries), artifact.created_at
        self.updatedAt = artifact.updated_at
        self.aliases = _alias_views(context, artifact)

    @property
    def currentManifest(self) -> dict[str, Any] | None:
        artifact = self._a
        if artifact.manifest_path is None or artifact.manifest_id is None:
            return None
        data = self._c.world.blobs.get(artifact.manifest_path, b"")
        return {
            "id": artifact.manifest_id,
            "file": file_view(
                self._c,
                name=artifact.manifest_path.rsplit("/", 1)[-1],
                storage_path=artifact.manifest_path,
                md5=b64md5(data),
                size=len(data),
            ),
        }

    @property
    def createdBy(self) -> Any:
        world, artifact = self._c.world, self._a
        coll = world.collections[artifact.collection_id]
        run = world.run(coll.entity, coll.project, artifact.run_name or "")
        return self._c.run_view(self._c, run) if run else None

    def usedBy(self, info: Info, **page: Unpack[Page]) -> Any:
        world = self._c.world
        with world.lock:
            users = [r for r in world.runs.values() if self._a.id in r.input_artifacts]
        return connection([self._c.run_view(self._c, r) for r in users], page)


class MembershipView(_VersionFiles):
    def __init__(self, context: Context, artifact: ArtifactRecord) -> None:
        self._c, self._a = context, artifact
        coll = context.world.collections[artifact.collection_id]
        self.id = gql_id("ArtifactCollectionMembership", artifact.number)
        self.versionIndex, self.createdAt = artifact.version_index, artifact.created_at
        self.aliases = _alias_views(context, artifact)
        self.artifactCollection = CollectionView(context, coll)
        self.artifact = ArtifactView(context, artifact)


class ProjectView:
    def __init__(self, context: Context, record: ProjectRecord) -> None:
        self._c, self._p = context, record
        self.id, self.internalId = record.id, str(record.internal_id)
        self.name, self.entityName = record.name, record.entity
        self.entity = {"id": gql_id("Entity", record.entity), "name": record.entity}
        # Stored nowhere, answered as a new W&B project reads (see UNMODELLED_FIELDS).
        self.readOnly, self.description, self.access = False, None, "PROJECT"
        self.views, self.createdAt, self.isBenchmark = "{}", None, False

    def run(self, info: Info, name: str) -> Any:
        record = self._c.world.run(self._p.entity, self._p.name, name)
        return self._c.run_view(self._c, record) if record else None

    def bucket(self, info: Info, name: str, missingOk: bool | None = None) -> Any:
        return self.run(info, name)

    def runs(self, info: Info, **page: Unpack[Page]) -> dict[str, Any]:
        records = project_runs(self._c.world, self._p, page.get("filters"), page.get("order"))
        return connection([self._c.run_view(self._c, r) for r in records], page)

    def runCount(self, info: Info, filters: str | None = None) -> int:
        return len(project_runs(self._c.world, self._p, filters, None))

    def artifact(self, info: Info, name: str) -> ArtifactView | None:
        collection, _, alias = name.partition(":")
        artifact = self._c.world.resolve_artifact(
            self._p.entity, self._p.name, collection, alias or "latest"
        )
        return ArtifactView(self._c, artifact) if artifact else None

    def runQueue(self, info: Info, name: str) -> QueueView | None:
        queue = self._c.world.queue_by_name(self._p.entity, self._p.name, name)
        return QueueView(self._c, queue) if queue else None

    @property
    def runQueues(self) -> list[QueueView]:
        world = self._c.world
        with world.lock:
            return [
                QueueView(self._c, q)
                for q in world.queues.values()
                if (q.entity, q.project) == (self._p.entity, self._p.name)
            ]

    def artifactCollectionMembership(self, info: Info, name: str) -> MembershipView | None:
        collection, _, alias = name.partition(":")
        project = self._p
        return membership_view(self._c, project.entity, project.name, collection, alias or "latest")

    def artifactCollection(self, info: Info, name: str) -> CollectionView | None:
        coll = self._c.world.collection(self._p.entity, self._p.name, name)
        return CollectionView(self._c, coll) if coll else None

    def artifactCollections(self, info: Info, **page: Unpack[Page]) -> dict[str, Any]:
        world = self._c.world
        with world.lock:
            colls = [
                c
                for c in world.collections.values()
                if (c.entity, c.project) == (self._p.entity, self._p.name) and c.versions
            ]
        return connection([CollectionView(self._c, c) for c in colls], page)

    def artifactType(self, info: Info, name: str) -> dict[str, Any] | None:
        def collection(info: Info, name: str) -> CollectionView | None:
            coll = self._c.world.collection(self._p.entity, self._p.name, name)
            return CollectionView(self._c, coll) if coll and coll.type == type_name else None

        type_name = name
        return {
            "id": gql_id("ArtifactType", name),
            "name": name,
            "description": None,
            "artifactCollection": collection,
        }


class QueryRoot:
    """The ``Query`` type."""

    def __init__(self, context: Context) -> None:
        self._c = context

    @property
    def viewer(self) -> dict[str, Any]:
        entity = self._c.world.viewer_entity
        return {
            "id": gql_id("User", entity),
            "name": entity,
            "username": entity,
            "email": f"{entity}@example.invalid",
            "admin": False,
            "flags": "{}",
            "entity": entity,
            "deletedAt": None,
            "apiKeys": {"edges": []},
            "teams": {"edges": [{"node": {"id": gql_id("Entity", entity), "name": entity}}]},
        }

    def project(
        self, info: Info, name: str | None = None, entityName: str | None = None
    ) -> ProjectView | None:
        return project_view(self._c, entityName or self._c.world.viewer_entity, name or "")

    def model(
        self, info: Info, name: str | None = None, entityName: str | None = None
    ) -> ProjectView | None:
        return self.project(info, name, entityName)

    def entity(self, info: Info, name: str) -> dict[str, Any]:
        world = self._c.world

        def default_resource_config(info: Info, id: str) -> dict[str, Any] | None:
            config = world.resource_configs.get(id)
            if config is None or config.entity != name:
                return None
            return {
                "id": config.id,
                "config": config.config,
                "resource": config.resource,
                "templateVariables": [
                    {"name": k, "schema": json.dumps(v)}
                    for k, v in config.template_variables.items()
                ],
            }

        return {
            "id": gql_id("Entity", name),
            "name": name,
            "xxhashDigestsEnabled": False,
            "defaultResourceConfig": default_resource_config,
            "organization": None,  # a personal entity: no (CoreWeave) organization
        }

    def artifact(self, info: Info, id: str) -> ArtifactView | None:
        record = self._c.world.artifacts.get(id)
        return ArtifactView(self._c, record) if record else None

    @property
    def serverInfo(self) -> dict[str, Any]:
        return {"features": []}

    def clientIDMapping(self, info: Info, clientID: str) -> None:
        return None
