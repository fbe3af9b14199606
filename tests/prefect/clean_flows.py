"""Flows that run one short job each and succeed, served by a real runner:
``python -m tests.prefect.clean_flows`` (what ``flow.serve()`` does for a user)."""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow, serve
from prefect_jobrelay import arun_job, run_job

HELLO = [sys.executable, "-c", "print('clean-line-1'); print('clean-line-2')"]


@flow(name="jobrelay-clean-async")
async def clean_async_flow(credentials: str) -> dict[str, Any]:
    record: dict[str, Any] = await arun_job(credentials, {"entrypoint": HELLO, "name": "clean"})
    return record


@flow(name="jobrelay-clean-sync")
def clean_sync_flow(credentials: str) -> dict[str, Any]:
    record: dict[str, Any] = run_job(credentials, {"entrypoint": HELLO, "name": "clean"})
    return record


if __name__ == "__main__":
    serve(
        clean_async_flow.to_deployment(name="served"),
        clean_sync_flow.to_deployment(name="served"),
        print_starting_message=False,
    )
