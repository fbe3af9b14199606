"""The store and scheduler without an agent: claim order, concurrency limits, positions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jobrelay.models import JobSpec, QueueMode
from jobrelay.platforms.local import scheduling
from jobrelay.platforms.local.schema import SCHEMA_VERSION
from jobrelay.platforms.local.store import Store

from .conftest import db_rows


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    home = tmp_path / "home"
    home.mkdir()
    s = Store(home)
    yield s
    s.close()


def submit(store: Store, name: str, queue: str = "default", priority: int = 0) -> str:
    return store.insert_job(JobSpec(entrypoint="true", name=name, queue=queue, priority=priority))


def claim_names(store: Store, n: int) -> list[str | None]:
    names = []
    for _ in range(n):
        claim = scheduling.claim_next(store, "a-test")
        names.append(None if claim is None else claim.spec["name"])
    return names


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (QueueMode.FIFO, ["low", "high", "mid", "high2"]),
        (QueueMode.LIFO, ["high2", "mid", "high", "low"]),
        (QueueMode.PRIORITY, ["high", "high2", "mid", "low"]),
    ],
)
def test_claims_follow_the_queue_mode(store: Store, mode: QueueMode, expected: list[str]) -> None:
    store.upsert_queue("q", 10, mode, exist_ok=False)
    for name, priority in [("low", 0), ("high", 9), ("mid", 5), ("high2", 9)]:
        submit(store, name, "q", priority)
    assert claim_names(store, 5) == [*expected, None]


def test_queue_positions_follow_the_queue_mode(store: Store) -> None:
    store.upsert_queue("prio", 1, QueueMode.PRIORITY, exist_ok=False)
    ids = {name: submit(store, name, "prio", p) for name, p in [("a", 1), ("b", 3), ("c", 2)]}
    rows = {r["id"]: r["queue_position"] for r in store.job_rows(list(ids.values()))}
    assert [rows[ids[n]] for n in ("b", "c", "a")] == [1, 2, 3]


def test_max_concurrency_caps_claimed_and_running_jobs(store: Store) -> None:
    store.upsert_queue("two", 2, QueueMode.FIFO, exist_ok=False)
    for i in range(4):
        submit(store, f"j{i}", "two")
    first = scheduling.claim_next(store, "a-test")
    assert first is not None
    assert claim_names(store, 2) == ["j1", None]  # two in flight: the queue is full
    scheduling.finish_attempt(
        store, first, "a-test", outcome="succeeded", exit_code=0, message=None
    )
    assert claim_names(store, 2) == ["j2", None]


def test_a_full_queue_does_not_block_other_queues(store: Store) -> None:
    store.upsert_queue("one", 1, QueueMode.FIFO, exist_ok=False)
    submit(store, "one-a", "one")
    submit(store, "one-b", "one")
    submit(store, "default-a")
    assert claim_names(store, 4) == ["one-a", "default-a", None, None]


def test_a_job_is_claimed_by_exactly_one_agent(store: Store, tmp_path: Path) -> None:
    submit(store, "only")
    other = Store(store.home)  # a second connection, as another agent would have
    try:
        got = [scheduling.claim_next(store, "a-one"), scheduling.claim_next(other, "a-two")]
    finally:
        other.close()
    assert [c is not None for c in got] == [True, False]


def test_schema_version_is_recorded_and_reopening_keeps_data(store: Store) -> None:
    job_id = submit(store, "kept")
    assert db_rows(store.home, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert db_rows(store.home, "PRAGMA journal_mode") == [("wal",)]
    again = Store(store.home)
    try:
        assert [r["id"] for r in again.job_rows([job_id])] == [job_id]
    finally:
        again.close()
