"""Real Dagster for the integration's tests: a temporary local instance (SQLite in a temp
DAGSTER_HOME, the one every run of the session is stored in) and local-platform homes.

Assets are materialized with Dagster's own machinery (``materialize``, ``execute_job``):
every event a test reads is one Dagster stored.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DAGSTER_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def instance() -> Iterator[Any]:
    import dagster as dg

    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A local platform home for one test; its agent and jobs are stopped after it."""
    from jobrelay_emulators.local_home import stop_local_home

    home = tmp_path / "home"
    yield home
    stop_local_home(home)


def user_messages(instance: Any, run_id: str) -> list[str]:
    """What the run's code logged through ``context.log``, in the order it was stored."""
    return [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is None and entry.user_message
    ]


def materialization_metadata(instance: Any, run_id: str, asset: str) -> dict[str, Any]:
    """The metadata of the run's materialization of ``asset``, as plain values."""
    import dagster as dg

    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if (
            materialization is not None
            and materialization.asset_key == dg.AssetKey.from_user_string(asset)
        ):
            return {name: value.value for name, value in materialization.metadata.items()}
    raise AssertionError(f"run {run_id} has no materialization of {asset}")


def platform_jobs(platform: str) -> list[Any]:
    """Every job the platform holds (newest first)."""
    from jobrelay import AsyncClient

    async def listed() -> list[Any]:
        async with AsyncClient(platform) as client:
            return list(await client.list_jobs(limit=500))

    return asyncio.run(listed())
