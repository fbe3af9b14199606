"""Real Prefect for the integration's tests: a Prefect API server on 127.0.0.1 (the test
harness's temporary server, SQLite in a temp dir) and a throwaway PREFECT_HOME.

Prefect reads its settings from the environment, so it is set here, at import, before a
test module imports Prefect. Served flows run in other processes that inherit it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = Path(os.environ.get("JOBRELAY_PREFECT_TEST_HOME") or tempfile.mkdtemp(prefix="jr-pf-"))
os.environ.update(
    {
        "JOBRELAY_PREFECT_TEST_HOME": str(_HOME),
        "PREFECT_HOME": str(_HOME / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "DO_NOT_TRACK": "1",
    }
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "jr-prefect-secret-5d81c2"  # must never show up in logs, artifacts, results, the DB


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[dict[str, str]]:
    """The harness's server: its API URL and SQLite file, also set for subprocesses."""
    import prefect.settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        url = str(prefect.settings.PREFECT_API_URL.value())
        db = str(prefect.settings.PREFECT_API_DATABASE_CONNECTION_URL.value())
        os.environ["PREFECT_API_URL"] = url
        try:
            yield {"url": url, "db": db.removeprefix("sqlite+aiosqlite:///")}
        finally:
            os.environ.pop("PREFECT_API_URL", None)


# The test flows (tests/prefect/flows.py) by kind, as deployments name them.
FLOWS = {
    "async": "jobrelay-async-job",
    "sync": "jobrelay-sync-job",
    "bare": "jobrelay-async-job-bare",
    "reaper": "jobrelay-cancel-orphaned-jobs",
}
POOL = "jobrelay-process"


@pytest.fixture(scope="session")
def served(prefect_api: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``serve()`` of the test flows (a real runner) in a process of its own; its log."""
    from tests.prefect import runs

    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with runs.started(runs.python("-m", "tests.prefect.serve_flows"), log):
        yield log


@pytest.fixture(scope="session")
def worker(prefect_api: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A process work pool, deployments of the test flows from this checkout (what
    ``flow.from_source(<dir>, ...).deploy(...)`` makes) and ``prefect worker start`` on the
    pool in a process of its own; the worker's log."""
    from tests.prefect import runs

    asyncio.run(_deploy_to_pool())
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    argv = runs.python("-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process")
    with runs.started(argv, log):
        yield log


async def _deploy_to_pool() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.flows import Flow

    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    for name in ("async_job_flow", "sync_job_flow", "bare_async_job_flow"):
        entrypoint = f"tests/prefect/flows.py:{name}"
        flow = await Flow.afrom_source(source=str(ROOT), entrypoint=entrypoint)
        await flow.adeploy(name="worker", work_pool_name=POOL, print_next_steps=False)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A local platform home for one test; its agent and jobs are stopped after it."""
    from jobrelay_emulators.local_home import stop_local_home

    home = tmp_path / "home"
    yield home
    stop_local_home(home)


@contextlib.contextmanager
def prefect_sync_client() -> Iterator[None]:
    """Run an async flow in this process with Prefect's sync client context open.

    Prefect 3.7.7's async flow engine reads the server's default result storage through
    ``get_client(sync_client=True)`` before it opens a client context, and never closes
    that client when none is open (``prefect.results``,
    ``_read_server_default_result_storage_block_id``): its socket is left to the garbage
    collector, a ``ResourceWarning`` (an error here) at a random later point. With the
    context open, Prefect uses the context's client and closes it.
    Flow runs started by a runner or a worker (other processes) open the context themselves.
    """
    from prefect.context import SyncClientContext

    with SyncClientContext.get_or_create():
        yield


async def flush_logs() -> None:
    """Ship the run logs this process holds to the server now."""
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()


async def flow_run_logs(flow_run_id: Any) -> list[str]:
    """The flow run's log messages (its task runs' too), oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC,
        )
    return [log.message for log in logs]


async def eventually(check: Any, timeout: float = 15.0, every: float = 0.2) -> Any:
    """``await check()`` until it returns a truthy value (returned) or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(every)
