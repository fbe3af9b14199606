"""The reaper's lookup reads flow runs and task runs (owners outside any flow run) a page
at a time, from a real Prefect server (the harness's): every owner is answered whatever
the page size, and a run the server does not know is gone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from jobrelay.integration import Owner, OwnerState
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, Running
from prefect_jobrelay import PrefectOwnerLookup

pytestmark = pytest.mark.slow


@flow(name="jobrelay-owner-pages")
def owner_flow() -> None: ...


@task(cache_policy=NO_CACHE)
def owner_task() -> None: ...


@pytest.mark.parametrize("page", [1, 2, 200])
async def test_every_owner_is_answered_a_page_at_a_time(
    prefect_api: dict[str, str], monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    import prefect_jobrelay._reaper as reaper
    from prefect.client.orchestration import get_client

    monkeypatch.setattr(reaper, "PAGE", page)
    lookup = PrefectOwnerLookup()
    states: dict[str, Any] = {"running": Running(), "completed": Completed(), "failed": Failed()}
    async with get_client() as prefect:
        flow_runs = {
            name: (await prefect.create_flow_run(owner_flow, state=state)).id
            for name, state in states.items()
        }
        task_runs = {
            name: (
                await prefect.create_task_run(
                    owner_task, flow_run_id=None, dynamic_key=name, state=state
                )
            ).id
            for name, state in states.items()
        }
    flow_owners = {
        name: Owner("prefect", lookup.installation, (str(run), "-"))
        for name, run in flow_runs.items()
    }
    task_owners = {
        name: Owner("prefect", lookup.installation, ("-", str(run)))
        for name, run in task_runs.items()
    }
    gone = [
        Owner("prefect", lookup.installation, (str(uuid.uuid4()), "-")),
        Owner("prefect", lookup.installation, ("-", str(uuid.uuid4()))),
    ]

    answer = await lookup.states([*flow_owners.values(), *task_owners.values(), *gone])

    for owners in (flow_owners, task_owners):
        assert answer[owners["running"]].state is OwnerState.ALIVE
        assert answer[owners["completed"]].state is OwnerState.ENDED
        assert answer[owners["failed"]].state is OwnerState.ENDED
        assert answer[owners["failed"]].ended_at is not None
    assert [answer[owner].state for owner in gone] == [OwnerState.GONE, OwnerState.GONE]
