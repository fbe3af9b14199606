"""Many waits that end together open the client's job handoff once.

Found by ``benchmarks/airflow_triggers.py``: 1,000 deferred triggers whose W&B jobs ended in
one status tick each opened the handoff (a W&B artifact store with its own HTTP sessions and
TLS contexts) on a worker thread, which held the event loop for over a second.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobSpec
from jobrelay._handoff import handoff_for

from tests.platforms.conftest import kill_local_agents


async def test_waits_that_end_in_one_tick_open_the_handoff_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    async with AsyncClient(f"local://{home}") as setup:
        refs = [await setup.submit(JobSpec(entrypoint=["true"])) for _ in range(30)]
        for ref in refs:
            await setup.wait(ref)
    opened = []

    def counted(*args: object, **kwargs: object) -> object:
        opened.append(args)
        return handoff_for(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("jobrelay.client.handoff_for", counted)
    try:
        async with AsyncClient(f"local://{home}") as fresh:  # nothing opened yet
            results = await asyncio.gather(*(fresh.wait(ref) for ref in refs))
    finally:
        kill_local_agents(home)
    assert [r.status.state.value for r in results] == ["SUCCEEDED"] * len(refs)
    assert len(opened) == 1
