"""The IO manager on a real Dagster instance: partitions are aliases of one artifact, a
local file becomes a version, and downstream assets get the versions as refs."""

import asyncio
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_jobrelay import JobRelayIOManager, partition_alias
from jobrelay import ArtifactRef
from jobrelay.artifacts import open_store

from tests.dagster.conftest import materialization_metadata

DAYS = dg.StaticPartitionsDefinition(["2026-01-01", "2026-01-02", "eu/west v1"])


def test_partitions_are_aliases_and_load_back_as_refs(instance: Any, tmp_path: Path) -> None:
    store_url = str(tmp_path / "store")
    seen: dict[str, Any] = {}

    @dg.asset(partitions_def=DAYS, key_prefix="sales")
    def daily(context: dg.AssetExecutionContext) -> Path:
        path = tmp_path / f"{context.partition_key.replace('/', '_')}.csv"
        path.write_text(f"day,{context.partition_key}\n")
        return path

    @dg.asset(partitions_def=DAYS, ins={"daily": dg.AssetIn(key=["sales", "daily"])})
    def checked(daily: ArtifactRef) -> None:
        seen.setdefault("checked", []).append(daily)

    @dg.asset(ins={"daily": dg.AssetIn(key=["sales", "daily"])})
    def summary(daily: dict[str, ArtifactRef]) -> None:
        seen["summary"] = daily

    resources = {"io_manager": JobRelayIOManager(store=store_url)}
    runs = {}
    for key in DAYS.get_partition_keys():
        result = dg.materialize(
            [daily, checked], instance=instance, resources=resources, partition_key=key
        )
        assert result.success
        runs[key] = result.run_id
    assert dg.materialize(
        [daily, checked, summary], instance=instance, resources=resources, selection=[summary]
    ).success

    store = open_store(store_url)
    versions = asyncio.run(store.list("sales.daily"))
    assert [v.version for v in versions] == ["v1", "v2", "v3"]
    for key, run_id in runs.items():
        recorded = materialization_metadata(instance, run_id, "sales/daily")
        by_alias = asyncio.run(store.resolve(f"sales.daily:{partition_alias(key)}"))
        assert recorded["artifact_uri"] == by_alias.uri
        assert recorded["artifact_digest"] == by_alias.digest
        assert seen["summary"][key] == by_alias
    assert [ref.uri for ref in seen["checked"]] == [seen["summary"][k].uri for k in runs]
    assert partition_alias("2026-01-01") == "2026-01-01"
    assert partition_alias("eu/west v1").startswith("p-eu_west_v1-")
    assert partition_alias("v2") != "v2"  # never mistaken for a version
