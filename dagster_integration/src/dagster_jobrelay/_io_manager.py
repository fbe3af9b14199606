"""``JobRelayIOManager``: asset values kept as jobrelay artifacts in an artifact store.

An asset's value is an ``ArtifactRef`` (a job's output, what ``JobRelayResource.run(...,
output=NAME)`` returns) or a local file or folder. It is stored in the IO manager's store
as the next version of the artifact named after the asset key (``ml/model`` ->
``ml.model``); each partition is an alias of that artifact (``ml.model:2026-01-01``).
The version's URI, digest and producing job go in the materialization's metadata.

A downstream asset gets the upstream version as an ``ArtifactRef`` (a dict of them,
partition key -> ref, when it maps to several partitions), ready to be a job's input:
the core stages it into the store the downstream job's platform reads, checking its
digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from jobrelay import ArtifactError, ArtifactRef
from jobrelay.integration import LATEST, check_alias, check_name, opened_store, split_artifact_uri
from pydantic import Field

__all__ = ["JobRelayIOManager", "artifact_metadata", "partition_alias"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class JobRelayIOManager(ConfigurableIOManager):
    """Stores asset values as artifact versions in ``store`` and loads them back as refs.

    Example:
        ```python
        defs = dg.Definitions(
            assets=[model, evaluation],
            resources={"io_manager": JobRelayIOManager(store="s3://bucket/artifacts"), ...},
        )
        ```
    """

    store: str = Field(
        default="local://",
        description=(
            "The artifact store URL: local:// (the local platform's store), a folder path, "
            "s3://bucket/prefix or another fsspec URL, wandb://entity/project."
        ),
    )
    store_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options for the store (fsspec's, e.g. {'endpoint_url': ...}; no secrets).",
    )

    def handle_output(self, context: OutputContext, obj: ArtifactRef | Path | str | None) -> None:
        if obj is None:
            return
        name = artifact_name(context)
        aliases = [partition_alias(key) for key in _partitions(context)]
        stored = asyncio.run(self._put(name, obj, aliases))
        context.add_output_metadata(artifact_metadata(stored))
        context.log.info(f"Stored {stored.qualified_name} ({stored.digest}) in {self.store}")

    def load_input(self, context: InputContext) -> ArtifactRef | dict[str, ArtifactRef]:
        upstream = context.upstream_output
        if upstream is None:
            raise ArtifactError(f"input {context.name!r} has no upstream output to load")
        name = artifact_name(upstream)
        keys = _partitions(context)
        if not keys:
            return asyncio.run(self._resolve([f"{name}:{LATEST}"]))[0]
        refs = asyncio.run(self._resolve([f"{name}:{partition_alias(key)}" for key in keys]))
        if len(keys) == 1:
            return refs[0]
        return dict(zip(keys, refs, strict=True))

    async def _put(
        self, name: str, value: ArtifactRef | Path | str, aliases: list[str]
    ) -> ArtifactRef:
        async with opened_store(self.store, **self.store_options) as store:
            if not isinstance(value, ArtifactRef):
                return await store.put(name, Path(value), aliases=aliases)
            source_url, _ = split_artifact_uri(value.uri)
            if source_url == store.url and value.name == name and not aliases:
                return value  # already this asset's version: nothing to copy
            async with opened_store(source_url) as source:
                with tempfile.TemporaryDirectory(prefix="dagster-jobrelay-") as tmp:
                    payload = await source.fetch(value, Path(tmp) / "payload")
                    return await store.put(
                        name,
                        payload,
                        type=value.type,
                        metadata=value.metadata,
                        aliases=aliases,
                        producer=value.producer,
                    )

    async def _resolve(self, references: list[str]) -> list[ArtifactRef]:
        async with opened_store(self.store, **self.store_options) as store:
            return [await store.resolve(reference) for reference in references]


def artifact_name(context: OutputContext) -> str:
    """The artifact an output is stored as: its asset key's parts joined by ``.``, or
    ``<step>.<output>`` for an op's output."""
    parts = context.asset_key.path if context.has_asset_key else [context.step_key, context.name]
    return check_name(".".join(_UNSAFE.sub("_", part) for part in parts))


def partition_alias(partition_key: str) -> str:
    """The alias of a partition: the key itself where it is a valid alias
    (``2026-01-01``), else a readable form with a digest of the key, so two keys never
    share an alias."""
    safe = _UNSAFE.sub("_", partition_key)[:100]
    try:
        if safe == partition_key and safe != LATEST:
            return check_alias(safe)
    except ArtifactError:
        pass
    digest = hashlib.sha256(partition_key.encode()).hexdigest()[:12]
    return check_alias(f"p-{safe.lstrip('.-')}-{digest}")


def artifact_metadata(ref: ArtifactRef) -> dict[str, MetadataValue]:
    """An artifact version as Dagster metadata: its URI, digest, size, producing job and
    the whole ref as JSON (what a downstream job takes as an input)."""
    metadata: dict[str, MetadataValue] = {
        "artifact_uri": MetadataValue.text(ref.uri),
        "artifact_digest": MetadataValue.text(ref.digest),
        "artifact_size": MetadataValue.int(ref.size),
        "artifact": MetadataValue.json(ref.model_dump(mode="json")),
    }
    if ref.producer is not None:
        metadata["producer_job"] = MetadataValue.text(ref.producer.id)
        if ref.producer.url:
            metadata["producer_url"] = MetadataValue.url(ref.producer.url)
    return metadata


def _partitions(context: OutputContext | InputContext) -> list[str]:
    if not context.has_asset_partitions:
        return []
    return list(context.asset_partition_keys)
