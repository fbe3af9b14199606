"""What the emulated organization keeps besides jobs: images (cluster environments and their
builds), compute configs and resource tags.

The official SDK rebuilds a job's ``image_uri`` from its build (``anyscale/image/<cluster
env name>:<build revision>``, or a bring-your-own build's ``docker_image_name``) and its
compute config from the template (``<name>:<version>``), so each image and each compute
config a job names is kept as submitted. A registry image gets a cluster environment named
as the SDK's ``ImageURI.to_cluster_env_name`` names one (``docker.io/x:1`` ->
``docker-io-x-1``); the SDK's job status reads it back as that alias,
``anyscale/image/docker-io-x-1:1``. Every compute config a search names exists
(version 1 when the organization has not seen the name): the emulator has no console to
create them in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Build", "Catalog", "ComputeConfig"]

IMAGE_PREFIX = "anyscale/image/"
_NAMED_IMAGE = re.compile(r"^anyscale/image/(?P<name>[A-Za-z0-9_-]+):(?P<revision>[0-9]+)$")
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Build:
    """A cluster environment build: a named image's revision, or a registry image (BYOD)."""

    id: str
    cluster_env_id: str
    cluster_env_name: str
    revision: int
    docker_image_name: str | None = None  # set for a bring-your-own image

    @property
    def image_uri(self) -> str:
        if self.docker_image_name is not None:
            return self.docker_image_name
        return f"{IMAGE_PREFIX}{self.cluster_env_name}:{self.revision}"


@dataclass
class ComputeConfig:
    id: str
    name: str
    version: int


@dataclass
class Catalog:
    """Images, compute configs and tags; the caller holds the world's lock."""

    default_build: Build
    default_compute: ComputeConfig
    builds: dict[str, Build] = field(default_factory=dict)
    computes: dict[str, ComputeConfig] = field(default_factory=dict)
    # (resource id, key) -> (created_at, updated_at) of each tag, the values live on the job
    tag_times: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.builds[self.default_build.id] = self.default_build
        self.computes[self.default_compute.id] = self.default_compute

    # -- images ------------------------------------------------------------------------------

    def build_for_image(self, image_uri: Any, new_id: Callable[[str], str]) -> Build:
        """The build of ``image_uri`` (made on first use, as ``get_or_create`` does)."""
        if not isinstance(image_uri, str) or not image_uri.strip():
            raise ValueError("image_uri is required")
        for build in self.builds.values():
            if build.image_uri == image_uri:
                return build
        named = _NAMED_IMAGE.match(image_uri)
        if named is not None:
            name, revision, docker = named["name"], int(named["revision"]), None
        elif image_uri.startswith(IMAGE_PREFIX):
            raise ValueError(f"{image_uri!r} is not anyscale/image/<name>:<version>")
        else:  # a registry image: its cluster environment is named after it
            name, revision, docker = _NOT_NAME_CHARS.sub("-", image_uri), 1, image_uri
        env_id = next(
            (b.cluster_env_id for b in self.builds.values() if b.cluster_env_name == name),
            None,
        )
        build = Build(new_id("bld_"), env_id or new_id("apt_"), name, revision, docker)
        self.builds[build.id] = build
        return build

    def cluster_env(self, env_id: str) -> Build:
        """A build of the cluster environment ``env_id`` (it carries the name)."""
        for build in self.builds.values():
            if build.cluster_env_id == env_id:
                return build
        raise KeyError(f"cluster environment {env_id}")

    # -- compute configs ---------------------------------------------------------------------

    def find_compute(self, name: Any, version: int, new_id: Callable[[str], str]) -> ComputeConfig:
        """Version ``version`` of compute config ``name`` (``-1``: the newest), made when the
        organization has none of that name and version."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name.equals is required")
        same = [c for c in self.computes.values() if c.name == name]
        if version < 0 and same:
            return max(same, key=lambda c: c.version)
        wanted = max(version, 1)
        found = next((c for c in same if c.version == wanted), None)
        if found is None:
            found = ComputeConfig(new_id("cpt_"), name, wanted)
            self.computes[found.id] = found
        return found

    # -- tags --------------------------------------------------------------------------------

    def tag_records(
        self, resource_type: str, resource_id: str, tags: dict[str, str], since: str
    ) -> list[dict[str, Any]]:
        """``ResourceTagRecord`` objects for a resource's tags, by key (a tag given when the
        resource was made dates from ``since``)."""
        records = []
        for key in sorted(tags):
            created, updated = self.tag_times.get((resource_id, key), (since, since))
            records.append(
                {
                    "id": f"tag_{resource_id}_{key}",
                    "organization_id": "org_emulator",
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "key": key,
                    "value": tags[key],
                    "created_at": created,
                    "updated_at": updated,
                }
            )
        return records

    def upsert_tags(self, resource_id: str, tags: dict[str, str], given: Any, at: str) -> None:
        """Add or replace ``given`` in ``tags`` (a resource's tag values)."""
        if not isinstance(given, dict) or not given:
            raise ValueError("tags must be a non-empty map of strings")
        for key, value in given.items():
            if not isinstance(key, str) or not key or not isinstance(value, str):
                raise ValueError("tags must be a non-empty map of strings")
            created, _ = self.tag_times.get((resource_id, key), (at, at))
            self.tag_times[(resource_id, key)] = (created, at)
            tags[key] = value

    def delete_tags(self, resource_id: str, tags: dict[str, str], keys: Any) -> int:
        """Remove ``keys`` from ``tags``; how many were there."""
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("keys must be a list of tag keys")
        deleted = 0
        for key in keys:
            if tags.pop(key, None) is not None:
                deleted += 1
            self.tag_times.pop((resource_id, key), None)
        return deleted
