"""``WandbArtifactStore``: W&B artifacts behind the jobrelay ``ArtifactStore`` protocol.

A store is one project: ``wandb://ENTITY/PROJECT`` (``?host=URL`` for another server).
References are W&B paths, ``[entity/][project/]name[:alias]`` (``v0`` is the first version),
or this store's URIs ``wandb://ENTITY/PROJECT#name:vN``.

- ``resolve``: ``ArtifactMembershipByName``.
- ``fetch``: the manifest through ``currentManifest.file.directUrl``, file URLs through
  ``GetArtifactMembershipFileUrls``, each file streamed from its ``directUrl`` (no W&B
  credentials) and checked against the manifest's base64 MD5 in the same pass; a mismatch is
  an ``IntegrityError`` and nothing is left at the destination.
- ``put``: createArtifact -> createArtifactManifest -> createArtifactFiles -> PUT -> manifest
  PUT -> commitArtifact (reference §8); identical content returns the existing version.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import secrets
import string
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import (
    FILE_TYPE,
    FOLDER_TYPE,
    Lineage,
    check_name,
    check_put,
    check_reference,
)
from jobrelay.artifacts.localfs import remove_quietly, temp_name
from jobrelay.errors import ArtifactError, ArtifactNotFound, ConfigError, IntegrityError
from jobrelay.http import RetryPolicy
from jobrelay.models import ArtifactRef, JobRef
from jobrelay.platforms.wandb import operations as ops
from jobrelay.platforms.wandb.digests import artifact_digest, b64_md5, file_b64_md5
from jobrelay.platforms.wandb.payloads import JobId, artifact_ref, node_metadata, store_url
from jobrelay.platforms.wandb.settings import parse_artifact_path, resolve_target
from jobrelay.platforms.wandb.transport import WandbTransport

__all__ = ["WandbArtifactStore", "find_version", "open_store"]

# A version jobrelay put from one file (not a folder) says so in its manifest entry's
# ``extra``, where no W&B user sees it (not in the metadata, as before: LEGACY_KIND_KEY).
LAYOUT_EXTRA = "jobrelay.layout"
LEGACY_KIND_KEY = "jobrelay.kind"
FILE_BATCH = 25
# How many versions, collections or file URLs one request asks for.
PAGE = 100
FILE_PAGE = 5000


def open_store(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> WandbArtifactStore:
    """Open ``wandb://ENTITY/PROJECT[?host=URL]``; ``ConfigError`` for a bad URL or no key.

    ``options`` are the platform's (:class:`~jobrelay.platforms.wandb.WandbSettings`). The
    store has a transport of its own, which its ``aclose`` closes; the store of an open
    platform (``platform.artifact_store()``) shares the platform's instead.
    """
    api = WandbTransport(resolve_target(url, **options), transport=transport, retry=retry)
    return WandbArtifactStore(api)


async def find_version(
    api: WandbTransport, entity: str, project: str, name: str, alias: str
) -> dict[str, Any] | None:
    """The artifact node ``entity/project/name:alias`` names (``ArtifactMembershipByName``),
    with its id, digest, version index, metadata and type; None when there is none."""
    data = await api.execute(
        ops.ARTIFACT_MEMBERSHIP_BY_NAME,
        {"entity": entity, "project": project, "name": f"{name}:{alias}"},
        operation="ArtifactMembershipByName",
    )
    membership = (data.get("project") or {}).get("artifactCollectionMembership") or {}
    node: dict[str, Any] | None = membership.get("artifact") or None
    return node


async def _pages(
    api: WandbTransport,
    document: str,
    variables: Mapping[str, Any],
    parent: Callable[[dict[str, Any]], dict[str, Any] | None],
    *,
    operation: str,
    connection: str,
) -> AsyncIterator[builtins.list[dict[str, Any]]]:
    """The edges of a cursor-paged connection, a page at a time: ``parent`` picks from each
    answer the object that holds ``connection`` (None: there is none, so no pages), and
    ``pageInfo`` says whether to ask again from its ``endCursor``."""
    cursor: str | None = None
    while True:
        data = await api.execute(document, {**variables, "cursor": cursor}, operation=operation)
        holder = parent(data)
        page = (holder or {}).get(connection)
        if page is None:
            return
        yield page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return
        cursor = page["pageInfo"]["endCursor"]


def _random_id(n: int = 128) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _walk(path: Path) -> dict[str, Path]:
    if path.is_file():
        return {path.name: path}
    if not path.is_dir():
        raise ArtifactError(f"{path} does not exist; give a file or a folder to store")
    files = {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*")) if p.is_file()}
    if not files:
        raise ArtifactError(f"folder {path} is empty; W&B artifacts need at least one file")
    return files


class WandbArtifactStore:
    """Artifacts of one W&B project. Every method is safe to call from an event loop."""

    def __init__(self, api: WandbTransport, *, owns_api: bool = True) -> None:
        """A store that talks to W&B through ``api``, for ``api.settings``' project.

        ``owns_api=False`` when the transport is another's (the platform's): then
        :meth:`aclose` leaves it open, for its owner to close once.
        """
        self.api = api
        self.settings = api.settings
        self.url = store_url(api.settings)
        self._owns_api = owns_api

    def __repr__(self) -> str:
        return f"WandbArtifactStore({self.url!r})"

    # -- resolving -----------------------------------------------------------------------

    def _path(self, ref: ArtifactRef | str) -> tuple[str, str, str, str]:
        text = ref.uri if isinstance(ref, ArtifactRef) else check_reference(ref)
        if "#" in text:
            where, _, text = text.rpartition("#")
            if where != self.url:
                raise ArtifactError(
                    f"artifact {text} lives in {where}, not in {self.url}; stage it first"
                )
        return parse_artifact_path(text, entity=self.settings.entity, project=self.settings.project)

    async def _membership(self, entity: str, project: str, name: str, alias: str) -> dict[str, Any]:
        node = await find_version(self.api, entity, project, name, alias)
        if node is None:
            raise ArtifactNotFound(f"W&B artifact {entity}/{project}/{name}:{alias} not found")
        return node

    async def resolve(self, reference: str) -> ArtifactRef:
        """The exact version a path or URI names; ``ArtifactNotFound`` naming it if none."""
        entity, project, name, alias = self._path(reference)
        node = await self._membership(entity, project, name, alias)
        return artifact_ref(node, self.settings.in_project(entity, project), None)

    async def list(self, name: str | None = None) -> builtins.list[ArtifactRef]:
        """Every version of ``name`` (oldest first), or of every artifact of the project."""
        names = [check_name(name)] if name is not None else await self._collection_names()
        project = {"entity": self.settings.entity, "project": self.settings.project}
        out: builtins.list[ArtifactRef] = []
        for collection in names:
            async for edges in _pages(
                self.api,
                ops.COLLECTION_VERSIONS,
                {**project, "collection": collection, "perPage": PAGE},
                lambda data: (data.get("project") or {}).get("artifactCollection"),
                operation="CollectionVersions",
                connection="artifacts",
            ):
                out.extend(artifact_ref(e["node"], self.settings, None) for e in edges)
        return out

    async def _collection_names(self) -> builtins.list[str]:
        names: builtins.list[str] = []
        async for edges in _pages(
            self.api,
            ops.PROJECT_ARTIFACT_COLLECTIONS,
            {"entity": self.settings.entity, "project": self.settings.project, "perPage": PAGE},
            lambda data: data.get("project"),
            operation="ProjectArtifactCollections",
            connection="artifactCollections",
        ):
            names.extend(e["node"]["name"] for e in edges)
        return sorted(names)

    # -- fetching ------------------------------------------------------------------------

    async def fetch(self, ref: ArtifactRef | str, dest: Path) -> Path:
        """Download and verify a version into ``dest`` (a file for a single-file artifact
        stored by jobrelay, else a folder). Nothing appears at ``dest`` unless all is valid.
        """
        entity, project, name, alias = self._path(ref)
        node = await self._membership(entity, project, name, alias)
        version = f"v{node['versionIndex']}"
        if isinstance(ref, ArtifactRef) and ref.digest != f"manifest_md5:{node['digest']}":
            raise IntegrityError(
                f"{name}:{version} has digest {node['digest']}, but the reference says {ref.digest}"
            )
        contents = await self._manifest(node["id"], f"{name}:{version}")
        _refuse_references(f"{name}:{version}", contents)
        urls = await self._file_urls(entity, project, name, version)
        only = next(iter(contents.values())) if len(contents) == 1 else {}
        is_file = len(contents) == 1 and (
            (only.get("extra") or {}).get(LAYOUT_EXTRA) == "file"
            or node_metadata(node).get(LEGACY_KIND_KEY) == "file"
        )
        dest, tmp = await run_blocking(_prepare_destination, Path(dest), is_file)
        try:
            for path, entry in sorted(contents.items()):
                if path not in urls:
                    raise ArtifactError(f"W&B lists no download URL for {name}:{version}/{path}")
                target = tmp if is_file else tmp / path
                await self._download(urls[path], target, entry, f"{name}:{version}/{path}")
            await run_blocking(_publish, tmp, dest)
        except BaseException:
            await run_blocking(remove_quietly, tmp)
            raise
        return dest

    async def _manifest(self, artifact_id: str, what: str) -> dict[str, dict[str, Any]]:
        data = await self.api.execute(
            ops.FETCH_ARTIFACT_MANIFEST, {"id": artifact_id}, operation="FetchArtifactManifest"
        )
        manifest = ((data.get("artifact") or {}).get("currentManifest") or {}).get("file")
        if not manifest or not manifest.get("directUrl"):
            raise ArtifactNotFound(f"W&B artifact {what} has no manifest")
        response = await self.api.download(manifest["directUrl"])
        try:
            contents: dict[str, dict[str, Any]] = json.loads(response.content)["contents"]
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(f"the manifest of {what} is not valid JSON") from None
        return contents

    async def _file_urls(
        self, entity: str, project: str, name: str, version: str
    ) -> dict[str, str]:
        def membership(data: dict[str, Any]) -> dict[str, Any]:
            coll = (data.get("project") or {}).get("artifactCollection") or {}
            found: dict[str, Any] | None = coll.get("artifactMembership")
            if found is None or found.get("files") is None:
                raise ArtifactNotFound(
                    f"W&B artifact {entity}/{project}/{name}:{version} not found"
                )
            return found

        urls: dict[str, str] = {}
        async for edges in _pages(
            self.api,
            ops.GET_ARTIFACT_MEMBERSHIP_FILE_URLS,
            {
                "entity": entity,
                "project": project,
                "collection": name,
                "alias": version,
                "perPage": FILE_PAGE,
            },
            membership,
            operation="GetArtifactMembershipFileUrls",
            connection="files",
        ):
            urls.update({e["node"]["name"]: e["node"]["directUrl"] for e in edges})
        return urls

    async def _download(self, url: str, target: Path, entry: dict[str, Any], what: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        md5 = hashlib.md5()
        size = 0
        with target.open("xb") as out:
            async for chunk in self.api.stream(url):
                md5.update(chunk)
                size += len(chunk)
                out.write(chunk)
        import base64

        got = base64.b64encode(md5.digest()).decode()
        if got != entry.get("digest") or ("size" in entry and size != int(entry["size"])):
            raise IntegrityError(
                f"{what}: downloaded bytes have MD5 {got} ({size} bytes), the manifest says "
                f"{entry.get('digest')} ({entry.get('size')} bytes)"
            )

    # -- logging a new version -----------------------------------------------------------

    async def put(
        self,
        name: str,
        path: Path,
        *,
        type: str = FILE_TYPE,
        metadata: dict[str, Any] | None = None,
        aliases: tuple[str, ...] | builtins.list[str] = (),
        producer: JobRef | None = None,
    ) -> ArtifactRef:
        """Log ``path`` as the next version of ``name``; identical content dedupes."""
        args = check_put(name, type, metadata, aliases)
        name, type, metadata = args.name, args.type, args.metadata
        wanted = [a for a in args.aliases if a != "latest"]
        path = Path(path)
        files = await run_blocking(_walk, path)
        is_file = path.is_file()
        kind = type if type != FILE_TYPE or is_file else FOLDER_TYPE
        digests = {p: await run_blocking(file_b64_md5, f) for p, f in files.items()}
        digest = artifact_digest({p: d for p, (d, _) in digests.items()})
        run_name, own_run = await self._run_for(producer)
        created = await self._create(name, kind, digest, run_name, dict(metadata or {}), wanted)
        artifact = created["artifact"]
        if artifact["state"] == "COMMITTED":
            await self._add_aliases(artifact["id"], name, wanted)
            ref = await self.resolve(f"{name}:v{artifact['versionIndex']}")
        else:
            await self._upload(artifact, files, digests, run_name, is_file=is_file)
            await self.api.execute(
                ops.COMMIT_ARTIFACT, {"artifactID": artifact["id"]}, operation="CommitArtifact"
            )
            ref = await self._resolve_id(name, artifact["id"])
        if own_run:
            await self._finish_run(run_name)
        return ref.model_copy(update={"producer": producer})

    async def _resolve_id(self, name: str, artifact_id: str) -> ArtifactRef:
        for candidate in reversed(await self.list(name)):
            if candidate.metadata.get("wandb.id") == artifact_id:
                return candidate
        raise ArtifactNotFound(f"W&B artifact {name} ({artifact_id}) vanished after commit")

    async def _run_for(self, producer: JobRef | None) -> tuple[str, bool]:
        """The run that logs the version: the producer's W&B run, else a new ``auto`` run."""
        if producer is not None and producer.platform.startswith("wandb://"):
            return JobId.parse(producer.id).run_id, False
        run_name = _random_id(8)
        await self.api.execute(
            ops.UPSERT_BUCKET,
            {
                "name": run_name,
                "project": self.settings.project,
                "entity": self.settings.entity,
                "jobType": "auto",
                "state": "running",
            },
            operation="UpsertBucket",
        )
        return run_name, True

    async def _finish_run(self, run_name: str) -> None:
        s = self.settings
        await self.api.api.request(
            "POST",
            f"/files/{s.entity}/{s.project}/{run_name}/file_stream",
            operation="W&B file_stream",
            json={"files": {}, "complete": True, "exitcode": 0},
        )

    async def _create(
        self,
        name: str,
        kind: str,
        digest: str,
        run_name: str,
        metadata: dict[str, Any],
        aliases: builtins.list[str],
    ) -> dict[str, Any]:
        data = await self.api.execute(
            ops.CREATE_ARTIFACT,
            {
                "input": {
                    "entityName": self.settings.entity,
                    "projectName": self.settings.project,
                    "artifactTypeName": kind,
                    "artifactCollectionName": name,
                    "runName": run_name,
                    "digest": digest,
                    "digestAlgorithm": "MANIFEST_MD5",
                    "aliases": [
                        {"alias": a, "artifactCollectionName": name} for a in ["latest", *aliases]
                    ],
                    "metadata": json.dumps(metadata),
                    "enableDigestDeduplication": True,
                    "clientID": _random_id(),
                    "sequenceClientID": _random_id(),
                }
            },
            operation="CreateArtifact",
        )
        created: dict[str, Any] = data["createArtifact"]
        if created["artifact"]["state"] not in ("PENDING", "COMMITTED", "DELETED"):
            raise ArtifactError(f"W&B answered state {created['artifact']['state']!r}")
        return created

    async def _add_aliases(self, artifact_id: str, name: str, aliases: builtins.list[str]) -> None:
        if not aliases:
            return
        await self.api.execute(
            ops.ADD_ALIASES,
            {
                "artifactID": artifact_id,
                "aliases": [
                    {
                        "alias": a,
                        "artifactCollectionName": name,
                        "entityName": self.settings.entity,
                        "projectName": self.settings.project,
                    }
                    for a in aliases
                ],
            },
            operation="AddAliases",
        )

    async def _upload(
        self,
        artifact: dict[str, Any],
        files: dict[str, Path],
        digests: dict[str, tuple[str, int]],
        run_name: str,
        *,
        is_file: bool,
    ) -> None:
        base_id = ((artifact.get("artifactSequence") or {}).get("latestArtifact") or {}).get("id")
        manifest_vars = {
            "artifactID": artifact["id"],
            "baseArtifactID": base_id,
            "name": "wandb_manifest.json",
            "digest": "",
            "entityName": self.settings.entity,
            "projectName": self.settings.project,
            "runName": run_name,
            "manifestType": "FULL",
            "includeUpload": False,
        }
        reserved = await self.api.execute(
            ops.CREATE_ARTIFACT_MANIFEST, manifest_vars, operation="CreateArtifactManifest"
        )
        manifest_id = reserved["createArtifactManifest"]["artifactManifest"]["id"]
        paths = sorted(files)
        births: dict[str, str] = {}
        for start in range(0, len(paths), FILE_BATCH):
            batch = paths[start : start + FILE_BATCH]
            data = await self.api.execute(
                ops.CREATE_ARTIFACT_FILES,
                {
                    "input": {
                        "storageLayout": "V2",
                        "artifactFiles": [
                            {
                                "artifactID": artifact["id"],
                                "artifactManifestID": manifest_id,
                                "name": p,
                                "md5": digests[p][0],
                            }
                            for p in batch
                        ],
                    }
                },
                operation="CreateArtifactFiles",
            )
            edges = data["createArtifactFiles"]["files"]["edges"]
            for p, edge in zip(batch, edges, strict=True):
                node = edge["node"]
                births[p] = node["artifact"]["id"]
                if node.get("uploadUrl"):
                    body = await run_blocking(files[p].read_bytes)
                    await self.api.upload(node["uploadUrl"], body, node.get("uploadHeaders"))
        from jobrelay.platforms.wandb.digests import manifest_bytes

        manifest = manifest_bytes(
            {
                p: {
                    "digest": digests[p][0],
                    "size": digests[p][1],
                    "birthArtifactID": births[p],
                    "extra": {LAYOUT_EXTRA: "file"} if is_file else None,
                }
                for p in paths
            }
        )
        final = await self.api.execute(
            ops.CREATE_ARTIFACT_MANIFEST,
            {**manifest_vars, "digest": b64_md5(manifest), "includeUpload": True},
            operation="CreateArtifactManifest",
        )
        upload = final["createArtifactManifest"]["artifactManifest"]["file"]
        await self.api.upload(upload["uploadUrl"], manifest, upload.get("uploadHeaders"))

    # -- lineage -------------------------------------------------------------------------

    async def record_consumer(self, ref: ArtifactRef | str, consumer: JobRef) -> None:
        """``useArtifact``: the consumer's W&B run used this version (W&B consumers only)."""
        if not consumer.platform.startswith("wandb://"):
            raise ConfigError("only W&B runs can be recorded as consumers", field="consumer")
        entity, project, name, alias = self._path(ref)
        node = await self._membership(entity, project, name, alias)
        await self.api.execute(
            """mutation UseArtifact($entityName: String!, $projectName: String!,
                 $runName: String!, $artifactID: ID!) {
               useArtifact(input: {entityName: $entityName, projectName: $projectName,
                 runName: $runName, artifactID: $artifactID}) { artifact { id } } }""",
            {
                "entityName": self.settings.entity,
                "projectName": self.settings.project,
                "runName": JobId.parse(consumer.id).run_id,
                "artifactID": node["id"],
            },
            operation="UseArtifact",
        )

    async def lineage(self, ref: ArtifactRef | str) -> Lineage:
        """The version and, when the caller's ref carries it, its producer."""
        resolved = await self.resolve(ref.uri if isinstance(ref, ArtifactRef) else ref)
        producer = ref.producer if isinstance(ref, ArtifactRef) else None
        return Lineage(artifact=resolved, producer=producer)

    async def aclose(self) -> None:
        """Close the store's own transport; a shared one is left to its owner."""
        if self._owns_api:
            await self.api.aclose()


def _prepare_destination(dest: Path, is_file: bool) -> tuple[Path, Path]:
    """Check ``dest`` can take the version and make the hidden sibling it is built in."""
    dest = dest.absolute()
    if dest.exists() and ((is_file and dest.is_dir()) or (not is_file and any(dest.iterdir()))):
        raise ArtifactError(f"cannot fetch to {dest}: it exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / temp_name(f".{dest.name}.")
    if not is_file:
        tmp.mkdir()
    return dest, tmp


def _publish(tmp: Path, dest: Path) -> None:
    """Rename the verified copy into place in one step."""
    if dest.is_dir():
        dest.rmdir()  # empty, checked before; a folder cannot be renamed over one
    os.replace(tmp, dest)


def _refuse_references(what: str, contents: Mapping[str, Mapping[str, Any]]) -> None:
    """A reference artifact's files stay where they point (a bucket, a URL, a path on the
    logging machine); W&B stores no bytes to download, so it is refused up front, by name."""
    refs = sorted((path, str(e["ref"])) for path, e in contents.items() if e.get("ref"))
    if not refs:
        return
    path, target = refs[0]
    shown = target.split("?", 1)[0]  # a signed URL's query is a credential
    more = f" (and {len(refs) - 1} more)" if len(refs) > 1 else ""
    raise ArtifactError(
        f"W&B artifact {what} is a reference artifact: {path} points to {shown}{more}, "
        "outside W&B's storage, and jobrelay does not download references. Read the files "
        "from where they point, fetch it with the wandb SDK (artifact.download()), or log "
        "the files themselves (not references) to pass it between jobs."
    )
