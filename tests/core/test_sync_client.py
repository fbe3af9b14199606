"""``jobrelay.Client`` is the same API as ``AsyncClient`` for synchronous code: every public
async method has a sync counterpart with the same parameters (async iterators become plain
iterators, ``aclose`` is ``close``), and each one works on the real local platform."""

from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jobrelay import AsyncClient, Client, JobSpec, JobState, LogPage
from jobrelay.models import QueueMode

from tests.platforms.conftest import kill_local_agents

# The one rename: a sync close is ``close`` (as in httpx, files, sockets).
SYNC_NAME = {"aclose": "close"}


def public_async_methods() -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(AsyncClient, inspect.isfunction)
        if not name.startswith("_")
    }


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    """Name, kind and default of each parameter; annotations may differ (a threading.Event
    where the async method takes an asyncio.Event)."""
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name != "self"
    ]


def test_the_async_client_surface_is_what_this_test_knows() -> None:
    """Guards the parity test: a new AsyncClient method shows up here (and must be added
    to Client and to the run-through below)."""
    assert set(public_async_methods()) == {
        "aclose",
        "artifact_store",
        "cancel",
        "create_queue",
        "follow_logs",
        "list_jobs",
        "list_queues",
        "logs",
        "platform",
        "read_logs",
        "result",
        "run",
        "status",
        "status_hub",
        "statuses",
        "submit",
        "tail_logs",
        "wait",
    }


@pytest.mark.parametrize("name", sorted(public_async_methods()))
def test_every_async_method_has_a_sync_counterpart_with_the_same_parameters(name: str) -> None:
    async_method = public_async_methods()[name]
    sync_method = getattr(Client, SYNC_NAME.get(name, name), None)
    assert sync_method is not None, f"Client has no {SYNC_NAME.get(name, name)}"
    assert not inspect.iscoroutinefunction(sync_method)
    assert not inspect.isasyncgenfunction(sync_method)
    assert parameters(sync_method) == parameters(async_method)


class Recording:
    """The client, noting every public method a test calls on it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.called.add(name)
        return getattr(self.client, name)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Recording]:
    home = tmp_path / "home"
    try:
        with Client(f"local://{home}") as client:
            yield Recording(client)
    finally:
        kill_local_agents(home)


def lines(pages: Iterator[LogPage]) -> list[str]:
    return [line.text for page in pages for line in page.lines]


def test_every_sync_method_works_on_the_local_platform(client: Recording) -> None:
    job = JobSpec(entrypoint="for i in 1 2 3 4; do echo l$i; done", name="four-lines")

    assert client.platform().url.startswith("local://")
    assert client.status_hub() is client.status_hub()  # one hub per client
    assert client.artifact_store().url

    ref = client.submit(job)
    waited = client.wait(ref, until=JobState.SUCCEEDED, timeout=60)
    assert waited.state is JobState.SUCCEEDED
    assert client.status(ref).state is JobState.SUCCEEDED
    assert client.statuses([ref])[ref.id].state is JobState.SUCCEEDED
    assert [s.ref for s in client.list_jobs(limit=5)] == [ref]
    assert client.result(ref).state is JobState.SUCCEEDED

    page = client.logs(ref)
    assert [line.text for line in page.lines] == ["l1", "l2", "l3", "l4"]
    assert lines(client.read_logs(ref)) == ["l1", "l2", "l3", "l4"]
    assert lines(client.read_logs(ref, page.cursor)) == []  # a drain from the end: nothing
    assert lines(client.follow_logs(ref)) == ["l1", "l2", "l3", "l4"]
    assert [line.text for line in client.tail_logs(ref, 2)] == ["l3", "l4"]

    ran = client.run(JobSpec(entrypoint="echo ran"), on_submit=lambda ref: None)
    assert lines(client.read_logs(ran.ref)) == ["ran"]

    queue = client.create_queue("pairs", max_concurrency=2, mode=QueueMode.FIFO)
    assert queue.max_concurrency == 2
    assert "pairs" in {q.name for q in client.list_queues()}

    long = client.submit(JobSpec(entrypoint="sleep 30"))
    client.cancel(long)
    cancelled = client.wait(long, raise_on_failure=False, timeout=60)
    assert cancelled.state is JobState.CANCELLED

    client.close()
    exercised = {SYNC_NAME.get(name, name) for name in public_async_methods()}
    assert exercised <= client.called


def test_follow_logs_is_a_plain_iterator_that_a_stop_event_ends(client: Recording) -> None:
    ref = client.submit(JobSpec(entrypoint="echo first; sleep 30; echo never"))
    stop = threading.Event()
    seen: list[str] = []
    started = time.monotonic()
    for page in client.follow_logs(ref, stop=stop):
        seen.extend(line.text for line in page.lines)
        stop.set()  # set from this thread, between pages: the follow ends
    assert seen == ["first"]
    assert time.monotonic() - started < 20  # not at the job's end
    client.cancel(ref)


def test_leaving_a_followed_log_early_closes_it(client: Recording) -> None:
    ref = client.submit(JobSpec(entrypoint="echo a; echo b; sleep 30"))
    for page in client.follow_logs(ref):
        assert page.lines
        break
    # The client still works after an abandoned follow (its generator was closed).
    client.cancel(ref)
    assert client.wait(ref, raise_on_failure=False, timeout=60).state is JobState.CANCELLED


@pytest.mark.parametrize("name", sorted(public_async_methods()))
def test_help_shows_each_sync_method_with_its_documentation(name: str) -> None:
    """``help(Client)`` documents every method: made-from-async ones carry the async
    method's docstring, and none shows an async return type."""
    sync_method = getattr(Client, SYNC_NAME.get(name, name))
    assert inspect.getdoc(sync_method), f"Client.{sync_method.__name__} has no docstring"
    shown = pydoc.render_doc(sync_method, renderer=pydoc.plaintext)
    assert "AsyncIterator" not in shown.splitlines()[2]  # the signature line
    assert "Coroutine" not in shown


USER_CODE = """
from collections.abc import Iterator
from jobrelay import Client, JobRef, JobResult, JobSpec, JobState, JobStatus, LogPage

def use(client: Client, ref: JobRef) -> None:
    result: JobResult = client.wait(ref, until=JobState.RUNNING, timeout=3.0)
    pages: Iterator[LogPage] = client.read_logs(ref, "cursor")
    ran: JobResult = client.run(JobSpec(entrypoint="x"), cancel_on_kill=False, timeout=1.0)
    client.wait(ref, until="RUNNING")
    client.status(ref, 3)
    client.list_jobs(limits=3)
    status: int = client.status(ref)
"""


@pytest.mark.slow
def test_mypy_checks_calls_to_the_sync_client_as_it_does_async_ones(tmp_path: Path) -> None:
    """The sync methods are made from the async ones at import time: mypy still sees each
    one's parameters and sync return type, so a user's wrong call is an error."""
    (tmp_path / "user_code.py").write_text(USER_CODE)
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "user_code.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in found.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["9", "10", "11", "12"], found.stdout
    assert 'incompatible type "str"; expected "JobState"' in errors[0]
    assert "Too many arguments" in errors[1]
    assert 'Unexpected keyword argument "limits"' in errors[2]
    assert 'has type "JobStatus", variable has type "int"' in errors[3]


def test_the_api_reference_documents_each_sync_method() -> None:
    """The docs read the source statically (griffe), where a made method is an attribute:
    the docs' extension turns each back into the method, with its parameters and docs."""
    griffe = pytest.importorskip("griffe")
    root = Path(__file__).parents[2]
    extension = griffe.load_extensions(f"{root}/docs_ext/griffe_blocking.py:BlockingMethods")
    package = griffe.load("jobrelay", search_paths=[root / "core/src"], extensions=extension)
    documented = package["sync_client.Client"].members
    for name in public_async_methods():
        member = documented[SYNC_NAME.get(name, name)]
        assert member.kind is griffe.Kind.FUNCTION, name
        assert member.docstring is not None, name
        assert "Async" not in str(member.returns), name
    assert [p.name for p in documented["wait"].parameters][1:3] == ["ref", "until"]
