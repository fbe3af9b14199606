"""Keys that name their run, the run's jobs cancelled together, client options with a
credential kept apart, and an interrupt raised inside a wait: on the real local platform."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError, JobSpec, JobState
from jobrelay.integration import (
    MAX_KEY,
    active_in_scope,
    cancel_scope,
    client_options,
    run_sync,
    scope_prefix,
    scoped_key,
)
from pydantic import SecretStr

from tests.platforms.conftest import kill_local_agents

parts = st.lists(st.one_of(st.text(), st.integers(), st.none()), min_size=1, max_size=6)
scopes = st.text(min_size=1, max_size=40).filter(lambda s: "\0" not in s)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    kill_local_agents(home)


@given(scopes, parts)
def test_a_scoped_key_starts_with_its_scope_even_when_hashed(
    scope: str, identity: list[Any]
) -> None:
    key = scoped_key("prefect", scope, *identity)
    assert key.startswith(scope_prefix("prefect", scope))
    assert key == scoped_key("prefect", scope, *identity)
    assert len(key) <= MAX_KEY - 8
    JobSpec(entrypoint="true", idempotency_key=key)


@given(scopes, scopes, parts)
def test_one_scope_is_never_the_prefix_of_another(a: str, b: str, identity: list[Any]) -> None:
    if a != b:
        assert not scoped_key("prefect", a, *identity).startswith(scope_prefix("prefect", b))


def test_a_long_tail_is_hashed_and_the_scope_stays_readable() -> None:
    key = scoped_key("prefect", "0b5c-run", "x" * 400, 3)
    assert key.startswith("prefect:0b5c-run:sha256:")
    assert scoped_key("prefect", "0b5c-run", "x" * 400, 4) != key


async def test_cancel_scope_cancels_the_runs_active_jobs_and_nothing_else(home: Path) -> None:
    async with AsyncClient(f"local://{home}") as client:
        await client.create_queue("wide", max_concurrency=8)
        done = await client.submit(
            JobSpec(entrypoint="true", queue="wide", idempotency_key=scoped_key("t", "run-1", 9))
        )
        await client.wait(done)
        mine = [
            await client.submit(
                JobSpec(
                    entrypoint="sleep 60", queue="wide", idempotency_key=scoped_key("t", "run-1", i)
                )
            )
            for i in range(2)
        ]
        other = await client.submit(
            JobSpec(
                entrypoint="sleep 60", queue="wide", idempotency_key=scoped_key("t", "run-10", 0)
            )
        )
        unkeyed = await client.submit(JobSpec(entrypoint="sleep 60", queue="wide"))
        for ref in (*mine, other, unkeyed):
            await client.wait(ref, until=JobState.RUNNING)

        cancelled = await cancel_scope(client, scope_prefix("t", "run-1"))

        assert sorted(r.id for r in cancelled) == sorted(r.id for r in mine)
        for ref in mine:
            assert (await client.wait(ref, raise_on_failure=False)).state is JobState.CANCELLED
        assert (await client.status(other)).state is JobState.RUNNING
        assert (await client.status(unkeyed)).state is JobState.RUNNING
        assert (await client.status(done)).state is JobState.SUCCEEDED
        assert await active_in_scope(client, scope_prefix("t", "run-1")) == []
        assert await cancel_scope(client, scope_prefix("t", "run-1")) == []  # idempotent
        await client.cancel(other)
        await client.cancel(unkeyed)


def test_client_options_put_the_credential_under_one_name_on_every_platform() -> None:
    secret = SecretStr("s3cr3t")
    assert client_options("ray://127.0.0.1:8265", secret, {"verify": False}) == {
        "verify": False,
        "credential": secret,
    }
    assert client_options("wandb://team/proj", secret)["credential"] is secret
    assert client_options("local://", None, {}) == {}
    assert client_options("local://", SecretStr(""), {}) == {}


@pytest.mark.parametrize("name", ["credential", "token", "api_key"])
def test_a_credential_in_the_options_is_refused_naming_the_option(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        client_options("ray://127.0.0.1:8265", None, {name: "s3cr3t"})
    assert err.value.field == f"options.{name}"
    assert "s3cr3t" not in str(err.value)


async def test_a_credential_for_the_local_platform_is_refused_when_it_opens(
    tmp_path: Path,
) -> None:
    options = client_options(f"local://{tmp_path}?autostart=0", SecretStr("s3cr3t"))
    with pytest.raises(ConfigError) as err:
        await AsyncClient(f"local://{tmp_path}?autostart=0", **options).platform()
    assert err.value.field == "credential"
    assert "s3cr3t" not in str(err.value)


class _Interrupt(BaseException):
    """A framework's interrupt (Prefect's TerminationSignal is one)."""


def test_an_interrupt_raised_inside_the_wait_cancels_the_job(home: Path) -> None:
    known: dict[str, Any] = {}

    def interrupt_once_running(update: Any) -> None:
        if update.status.state is JobState.RUNNING:  # in a frame of the wait, as a signal
            raise _Interrupt  # handler's raise can be

    async def submit_and_wait(client: AsyncClient) -> Any:
        known["ref"] = await client.submit(JobSpec(entrypoint="sleep 60"))
        return await client.wait(known["ref"], on_update=interrupt_once_running)

    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(_Interrupt):
        run_sync(
            lambda: AsyncClient(f"local://{home}"), submit_and_wait, job=lambda: known.get("ref")
        )
    assert signal.getsignal(signal.SIGINT) is previous

    async def state() -> JobState:
        async with AsyncClient(f"local://{home}") as client:
            return (await client.wait(known["ref"], raise_on_failure=False)).state

    assert asyncio.run(state()) is JobState.CANCELLED
