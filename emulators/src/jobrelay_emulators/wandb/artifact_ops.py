"""How the emulated server creates, stores and commits artifact versions (reference §8).

The digest rules are written out here on their own, independently of the client's
``jobrelay.platforms.wandb.digests``, so a mistake in one shows up against the other.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from jobrelay_emulators.wandb.state import (
    ArtifactRecord,
    Collection,
    EmulatorError,
    ManifestEntry,
    World,
    gql_id,
    now_iso,
)

__all__ = [
    "add_aliases",
    "commit_artifact",
    "create_artifact",
    "create_artifact_files",
    "create_manifest",
    "delete_aliases",
    "manifest_storage_path",
    "update_manifest",
]


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def _manifest_digest(entries: dict[str, str]) -> str:
    text = "wandb-artifact-manifest-v1\n" + "".join(
        f"{path}:{digest}\n" for path, digest in sorted(entries.items())
    )
    return hashlib.md5(text.encode()).hexdigest()


def blob_path(entity: str, b64_md5: str) -> str:
    return f"artifacts/{entity}/{_hex(b64_md5)}"


def manifest_storage_path(artifact: ArtifactRecord, name: str) -> str:
    return f"artifact_manifests/{_hex(artifact.id)}/{name}"


def create_artifact(world: World, data: dict[str, Any]) -> ArtifactRecord:
    """``createArtifact``: a PENDING version, or the COMMITTED one with the same digest."""
    with world.lock:
        names = data.get("artifactCollectionNames") or []
        name = data.get("artifactCollectionName") or (names[0] if names else None)
        if not name:
            raise EmulatorError("artifactCollectionName is required")
        entity, project = data["entityName"], data["projectName"]
        for alias in data.get("aliases") or []:
            text = alias["alias"]
            if "/" in text or ":" in text or len(text) > 128:
                raise EmulatorError(f"invalid alias {text!r}")
        world.project(entity, project, create=True)
        coll = world.collection(entity, project, name)
        if coll is None:
            coll = Collection(
                id=gql_id("ArtifactCollection", world.next_number()),
                entity=entity,
                project=project,
                name=name,
                type=data["artifactTypeName"],
                created_at=now_iso(),
            )
            world.collections[coll.id] = coll
        elif coll.type != data["artifactTypeName"]:
            raise EmulatorError(
                f"artifact {name} already exists with type {coll.type!r}; "
                f"cannot create a version of type {data['artifactTypeName']!r}"
            )
        if data.get("enableDigestDeduplication"):
            for artifact_id in coll.versions:
                existing = world.artifacts[artifact_id]
                if existing.digest == data["digest"] and existing.state == "COMMITTED":
                    _link_run(world, existing, data.get("runName"), entity, project)
                    return existing
        number = world.next_number()
        artifact = ArtifactRecord(
            id=gql_id("Artifact", number),
            number=number,
            collection_id=coll.id,
            type=coll.type,
            digest=data["digest"],
            created_at=now_iso(),
            metadata=data.get("metadata"),
            description=data.get("description"),
            run_name=data.get("runName"),
            aliases_requested=[a["alias"] for a in data.get("aliases") or []],
        )
        world.artifacts[artifact.id] = artifact
        return artifact


def _link_run(
    world: World, artifact: ArtifactRecord, run_name: str | None, entity: str, project: str
) -> None:
    if not run_name:
        return
    run = world.run(entity, project, run_name)
    if run is not None and artifact.id not in run.output_artifacts:
        run.output_artifacts.append(artifact.id)


def _artifact(world: World, artifact_id: str) -> ArtifactRecord:
    artifact = world.artifacts.get(artifact_id)
    if artifact is None:
        raise EmulatorError(f"artifact {artifact_id} not found")
    return artifact


def create_manifest(
    world: World, data: dict[str, Any], expected_md5: dict[str, str]
) -> tuple[ArtifactRecord, str]:
    """``createArtifactManifest``: reserve the manifest (and, with a digest, its upload)."""
    with world.lock:
        artifact = _artifact(world, data["artifactID"])
        if artifact.state != "PENDING":
            raise EmulatorError(f"artifact {artifact.id} is {artifact.state}, not PENDING")
        if not data.get("runName"):
            raise EmulatorError("runName is required")
        artifact.manifest_id = artifact.manifest_id or gql_id("ArtifactManifest", artifact.number)
        path = manifest_storage_path(artifact, data["name"])
        artifact.manifest_path = path
        artifact.manifest_type = data.get("type") or "FULL"
        if artifact.manifest_type == "PATCH":
            raise EmulatorError("patch manifests (distributed artifacts) are not modelled")
        artifact.base_artifact_id = data.get("baseArtifactID")
        if data.get("digest"):
            expected_md5[path] = data["digest"]
        return artifact, path


def update_manifest(
    world: World, data: dict[str, Any], expected_md5: dict[str, str]
) -> tuple[ArtifactRecord, str]:
    """``updateArtifactManifest``: the digest (and upload) of a reserved incremental manifest."""
    with world.lock:
        manifest_id = data["artifactManifestID"]
        found = [a for a in world.artifacts.values() if a.manifest_id == manifest_id]
        path = found[0].manifest_path if found else None
        if path is None:
            raise EmulatorError(f"artifact manifest {manifest_id} not found")
        artifact = found[0]
        if artifact.state != "PENDING":
            raise EmulatorError(f"artifact {artifact.id} is {artifact.state}, not PENDING")
        if data.get("baseArtifactID"):
            artifact.base_artifact_id = data["baseArtifactID"]
        if data.get("digest"):
            expected_md5[path] = data["digest"]
        return artifact, path


def _base_entries(world: World, artifact: ArtifactRecord, coll: Collection) -> dict[str, Any]:
    """What an incremental version starts from: its base, else the collection's latest."""
    if artifact.manifest_type != "INCREMENTAL":
        return {}
    base_id = artifact.base_artifact_id or coll.aliases.get("latest")
    base = world.artifacts.get(base_id or "")
    return dict(base.entries) if base is not None else {}


def create_artifact_files(
    world: World, specs: list[dict[str, Any]]
) -> list[tuple[ArtifactRecord, str, str, bool]]:
    """``createArtifactFiles``: (birth artifact, name, storage path, needs upload), in order."""
    out = []
    with world.lock:
        for spec in specs:
            artifact = _artifact(world, spec["artifactID"])
            coll = world.collections[artifact.collection_id]
            try:
                path = blob_path(coll.entity, spec["md5"])
            except ValueError:
                raise EmulatorError(f"md5 of {spec['name']!r} is not base64") from None
            artifact.pending_files[spec["name"]] = spec["md5"]
            out.append((artifact, spec["name"], path, path not in world.blobs))
    return out


def commit_artifact(world: World, artifact_id: str) -> ArtifactRecord:
    """``commitArtifact``: check the uploaded manifest and blobs, then publish the version."""
    with world.lock:
        artifact = _artifact(world, artifact_id)
        if artifact.state == "COMMITTED":
            return artifact
        raw = world.blobs.get(artifact.manifest_path or "")
        if raw is None:
            raise EmulatorError(f"artifact {artifact_id} has no uploaded manifest")
        contents = json.loads(raw)["contents"]
        coll = world.collections[artifact.collection_id]
        entries: dict[str, ManifestEntry] = _base_entries(world, artifact, coll)
        for path, entry in contents.items():
            if "ref" not in entry and blob_path(coll.entity, entry["digest"]) not in world.blobs:
                raise EmulatorError(f"file {path!r} of artifact {artifact_id} was not uploaded")
            entries[path] = ManifestEntry(
                entry["digest"],
                int(entry.get("size", 0)),
                entry.get("birthArtifactID"),
                entry.get("ref"),
            )
        digest = _manifest_digest({p: e.digest for p, e in entries.items()})
        sent = _manifest_digest({p: e["digest"] for p, e in contents.items()})
        if artifact.manifest_type == "INCREMENTAL" and artifact.digest == sent:
            # The client knows only its own entries; the version's digest covers all of them,
            # and its stored manifest is the full one a reader downloads.
            artifact.digest = digest
            artifact.manifest_path = _write_full_manifest(world, artifact, raw, entries)
        if digest != artifact.digest:
            raise EmulatorError(
                f"artifact digest {artifact.digest} does not match its manifest ({digest})"
            )
        artifact.entries = entries
        artifact.state = "COMMITTED"
        artifact.version_index = len(coll.versions)
        artifact.updated_at = now_iso()
        coll.versions.append(artifact.id)
        for alias in {"latest", *artifact.aliases_requested}:
            coll.aliases[alias] = artifact.id
        _link_run(world, artifact, artifact.run_name, coll.entity, coll.project)
        return artifact


def _write_full_manifest(
    world: World, artifact: ArtifactRecord, raw: bytes, entries: dict[str, ManifestEntry]
) -> str:
    manifest = json.loads(raw)
    contents: dict[str, Any] = {}
    for path, entry in sorted(entries.items()):
        item: dict[str, Any] = {"digest": entry.digest, "size": entry.size}
        if entry.birth_artifact_id:
            item["birthArtifactID"] = entry.birth_artifact_id
        if entry.ref:
            item["ref"] = entry.ref
        contents[path] = item
    manifest["contents"] = contents
    path = manifest_storage_path(artifact, "wandb_manifest.json")
    world.blobs[path] = json.dumps(manifest).encode()
    return path


def add_aliases(world: World, artifact_id: str, aliases: list[dict[str, Any]]) -> None:
    with world.lock:
        artifact = _artifact(world, artifact_id)
        coll = world.collections[artifact.collection_id]
        for alias in aliases:
            if alias["artifactCollectionName"] != coll.name:
                raise EmulatorError(
                    f"alias collection {alias['artifactCollectionName']!r} is not {coll.name!r}"
                )
            coll.aliases[alias["alias"]] = artifact.id


def delete_aliases(world: World, artifact_id: str, aliases: list[dict[str, Any]]) -> None:
    with world.lock:
        artifact = _artifact(world, artifact_id)
        coll = world.collections[artifact.collection_id]
        for alias in aliases:
            if coll.aliases.get(alias["alias"]) == artifact.id:
                del coll.aliases[alias["alias"]]
