"""`jobrelay ls` and `jobrelay status` show who owns a job, and `ls --owner` filters by it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jobrelay import AsyncClient, JobSpec
from jobrelay._owners import Owner

from .test_cli import home, jobrelay

__all__ = ["home"]

AIRFLOW = Owner("airflow", "inst-1", ("etl", "manual__2026-12-07", "train", "-1", "1"))
DAGSTER = Owner("dagster", "inst-2", ("5f0c", "5f0c", "train_step", "model", "-"))


async def _submit(home: Path) -> dict[str, str]:
    async with AsyncClient(f"local://{home}") as client:
        refs = {
            "airflow": await client.submit(JobSpec(entrypoint="sleep 30", owner=str(AIRFLOW))),
            "dagster": await client.submit(JobSpec(entrypoint="sleep 30", owner=str(DAGSTER))),
            "none": await client.submit(JobSpec(entrypoint="sleep 30")),
        }
    return {name: ref.id for name, ref in refs.items()}


def test_ls_shows_each_jobs_owner_and_filters_by_its_prefix(home: Path) -> None:
    ids = asyncio.run(_submit(home))
    try:
        listed = {
            s["ref"]["id"]: s["owner"] for s in json.loads(jobrelay(home, "ls", "--json").stdout)
        }
        assert listed == {
            ids["airflow"]: str(AIRFLOW),
            ids["dagster"]: str(DAGSTER),
            ids["none"]: None,
        }
        table = jobrelay(home, "ls").stdout
        assert "owner" in table
        assert str(AIRFLOW) in table
        only = jobrelay(home, "ls", "--owner", "airflow:inst-1:etl", "--json")
        assert only.returncode == 0, only.stderr
        assert [s["ref"]["id"] for s in json.loads(only.stdout)] == [ids["airflow"]]
        status = jobrelay(home, "status", ids["dagster"])
        assert str(DAGSTER) in status.stdout
        assert json.loads(jobrelay(home, "status", ids["dagster"], "--json").stdout)[
            "owner"
        ] == str(DAGSTER)
    finally:
        for job_id in ids.values():
            jobrelay(home, "cancel", job_id)
