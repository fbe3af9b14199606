"""The orchestrator-neutral integration layer: keys, inputs, run records, events, the
kill-to-cancel bridge and the shared client, on the real local platform."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, AuthError, ConfigError, JobCancelled, JobSpec, JobState
from jobrelay.integration import (
    MAX_KEY,
    Killed,
    KillSwitch,
    TerminalEvent,
    idempotency_key,
    job_ref_from,
    normalize_inputs,
    run_record,
    run_sync,
    shared_client,
    wait_event,
)
from jobrelay.models import ArtifactRef

from tests.platforms.conftest import kill_local_agents

parts = st.lists(st.one_of(st.text(), st.integers(), st.none()), min_size=1, max_size=6)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    kill_local_agents(home)


# -- keys ---------------------------------------------------------------------------------


@given(parts)
def test_a_key_always_fits_the_limit_and_is_the_same_every_time(identity: list[Any]) -> None:
    key = idempotency_key("airflow", *identity)
    assert key == idempotency_key("airflow", *identity)
    assert len(key) <= MAX_KEY - 8  # room for the core's "#2" ... after a failure
    JobSpec(entrypoint="true", idempotency_key=key)  # accepted by the core


@given(parts, parts)
def test_different_identities_never_share_a_key(a: list[Any], b: list[Any]) -> None:
    def norm(p: list[Any]) -> list[str]:
        return ["-" if x is None else str(x) for x in p]

    if norm(a) != norm(b):
        assert idempotency_key("dagster", *a) != idempotency_key("dagster", *b)


def test_a_key_stays_readable_when_it_fits() -> None:
    key = idempotency_key("airflow", "etl", "train", "manual__2026-01-01T00:00:00+00:00", -1)
    assert key == "airflow:etl:train:manual__2026-01-01T00%3A00%3A00+00%3A00:-1"


# -- inputs and refs ----------------------------------------------------------------------

REF = ArtifactRef(
    uri="local:///x#model:v1", name="model", version="v1", digest="sha256-4mib:ab", size=3
)


def test_inputs_come_as_refs_json_rendered_text_or_aliases() -> None:
    as_json = REF.model_dump(mode="json")
    got = normalize_inputs(
        {"a": REF, "b": as_json, "c": json.dumps(as_json), "d": repr(as_json), "e": "model:v1"}
    )
    assert got == {"a": REF, "b": REF, "c": REF, "d": REF, "e": "model:v1"}
    assert normalize_inputs(json.dumps({"a": as_json})) == {"a": REF}
    assert normalize_inputs(None) == {}


junk = st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(st.one_of(junk, st.dictionaries(st.text(max_size=8), junk, max_size=4)))
def test_bad_inputs_are_a_config_error_naming_the_input(value: Any) -> None:
    try:
        result = normalize_inputs(value)
    except ConfigError as exc:
        field = exc.field or ""
    else:  # what is accepted is exactly what the core takes
        assert all(isinstance(v, ArtifactRef | str) for v in result.values())
        JobSpec(entrypoint="true", inputs=result)
        return
    assert field == "inputs" or field.startswith("inputs.")
    if isinstance(value, dict) and field != "inputs":
        assert field.removeprefix("inputs.") in {str(k) for k in value}


@given(junk)
def test_a_job_ref_is_read_from_a_ref_its_json_or_a_run_record_and_nothing_else(
    value: Any,
) -> None:
    with pytest.raises(ConfigError) as failed:
        job_ref_from(value)
    assert failed.value.field == "job"


# -- the run record and the terminal event --------------------------------------------------


async def test_the_run_record_is_json_and_says_what_a_user_asks(home: Path) -> None:
    async with AsyncClient(f"local://{home}") as client:
        result = await client.run(JobSpec(entrypoint="echo hi", queue="default"))
    record = json.loads(json.dumps(run_record(result)))
    assert record["state"] == "SUCCEEDED"
    assert record["job_id"] == result.ref.id
    assert record["platform"] == f"local://{home}"
    assert record["queue"] == "default"
    assert record["exit_code"] == 0
    assert record["ran_s"] >= 0
    assert record["queued_s"] >= 0
    assert job_ref_from(record) == result.ref


async def test_an_event_round_trips_and_gives_back_the_result_or_the_error(home: Path) -> None:
    async with AsyncClient(f"local://{home}") as client:
        ok = await client.submit(JobSpec(entrypoint="echo ok"))
        event = TerminalEvent.from_json(
            json.loads(json.dumps((await wait_event(client, ok)).to_json()))
        )
        assert event.outcome == "succeeded"
        assert event.result().state is JobState.SUCCEEDED

        slow = await client.submit(JobSpec(entrypoint="sleep 30"))
        timed_out = await wait_event(client, slow, run_timeout=0.5)
        assert (timed_out.outcome, timed_out.phase) == ("timeout", "run")
        # The cancel was sent: the job ends CANCELLED (the local agent stops it).
        assert (await client.wait(slow, raise_on_failure=False)).state is JobState.CANCELLED

        gone = await client.submit(JobSpec(entrypoint="sleep 30"))
        waiting = asyncio.create_task(wait_event(client, gone))
        await client.wait(gone, until=JobState.RUNNING)
        await client.cancel(gone)
        cancelled = await waiting
        assert cancelled.outcome == "cancelled"
        with pytest.raises(JobCancelled):
            TerminalEvent.from_json(cancelled.to_json()).result()


async def test_an_auth_error_is_an_error_event_that_raises_the_auth_error() -> None:
    refused = httpx.MockTransport(lambda request: httpx.Response(401, text="bad token"))
    async with AsyncClient("ray://127.0.0.1:8265", transport=refused) as client:
        from jobrelay import JobRef

        ref = JobRef(platform=(await client.platform()).url, id="raysubmit_x")
        event = TerminalEvent.from_json(
            json.loads(json.dumps((await wait_event(client, ref)).to_json()))
        )
    assert (event.outcome, event.error_type, event.retryable) == ("error", "AuthError", False)
    with pytest.raises(AuthError, match="401"):
        event.result()


def test_a_payload_that_is_not_an_event_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        TerminalEvent.from_json({"outcome": "exploded", "ref": {}})


# -- the sync bridge -------------------------------------------------------------------------


def test_a_kill_from_a_signal_handler_cancels_the_job_on_the_waits_loop(home: Path) -> None:
    switch = KillSwitch()
    known: dict[str, Any] = {}

    async def submit_and_wait(client: AsyncClient) -> Any:
        known["ref"] = await client.submit(JobSpec(entrypoint="sleep 60"))
        await client.wait(known["ref"], until=JobState.RUNNING)
        signal.setitimer(signal.ITIMER_REAL, 0.3)  # the "kill" lands while we wait
        return await client.wait(known["ref"])

    previous = signal.signal(signal.SIGALRM, lambda *_: switch.request())
    try:
        with pytest.raises(Killed, match="was cancelled") as killed:
            run_sync(
                lambda: AsyncClient(f"local://{home}"),
                submit_and_wait,
                kill=switch,
                job=lambda: known.get("ref"),
            )
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert killed.value.ref == known["ref"]
    with AsyncClient_sync(home) as status:
        assert status(known["ref"]) is JobState.CANCELLED


class _Interrupt(BaseException):
    """What a framework raises from its own signal handler (Dagster's interrupt)."""


@pytest.mark.parametrize("raised", [KeyboardInterrupt, _Interrupt])
def test_an_interrupt_raised_into_the_loop_cancels_the_job_and_propagates(
    home: Path, raised: type[BaseException]
) -> None:
    known: dict[str, Any] = {}

    async def submit_and_wait(client: AsyncClient) -> Any:
        known["ref"] = await client.submit(JobSpec(entrypoint="sleep 60"))
        await client.wait(known["ref"], until=JobState.RUNNING)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        return await client.wait(known["ref"])

    def interrupt(*_: Any) -> None:
        raise raised

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(raised):
            run_sync(
                lambda: AsyncClient(f"local://{home}"), submit_and_wait, job=lambda: known["ref"]
            )
    finally:
        signal.signal(signal.SIGALRM, previous)
    with AsyncClient_sync(home) as status:
        assert status(known["ref"]) is JobState.CANCELLED


def test_a_kill_before_anything_was_submitted_submits_nothing(home: Path) -> None:
    switch = KillSwitch()
    switch.request()

    async def submit(client: AsyncClient) -> Any:
        return await client.submit(JobSpec(entrypoint="sleep 60"))

    with pytest.raises(Killed, match="before its job was submitted"):
        run_sync(lambda: AsyncClient(f"local://{home}"), submit, kill=switch)
    with AsyncClient_sync(home) as _:
        pass


class AsyncClient_sync:
    def __init__(self, home: Path) -> None:
        self.home = home

    def __enter__(self) -> Any:
        def state(ref: Any) -> JobState:
            """The job's state once it ended (the agent acts on a cancel a moment later),
            or as it is after 15 s."""

            async def read() -> JobState:
                async with AsyncClient(f"local://{self.home}", autostart_agent=False) as c:
                    for _ in range(300):
                        found = (await c.status(ref)).state
                        if found.is_terminal:
                            return found
                        await asyncio.sleep(0.05)
                    return found

            return asyncio.run(read())

        return state

    def __exit__(self, *exc: object) -> None:
        return None


# -- the shared client -----------------------------------------------------------------------


async def test_concurrent_waiters_share_one_opened_client_per_loop(home: Path) -> None:
    made: list[AsyncClient] = []

    def make() -> AsyncClient:
        made.append(AsyncClient(f"local://{home}"))
        return made[-1]

    clients = await asyncio.gather(*(shared_client(("conn", 1), make) for _ in range(20)))
    assert len(made) == 1
    assert all(c is made[0] for c in clients)
    assert await shared_client(("conn", 2), make) is not made[0]
    for client in made:
        await client.aclose()


async def test_a_client_that_fails_to_open_is_tried_again_next_time(tmp_path: Path) -> None:
    attempts: list[str] = []

    def make() -> AsyncClient:
        attempts.append("x")
        return AsyncClient("local://nohost")  # a host part: refused when opened

    for _ in range(2):
        with pytest.raises(ConfigError):
            await shared_client("broken", make)
    assert len(attempts) == 2


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=30))
def test_an_alias_string_input_is_kept_as_it_is(alias: str) -> None:
    if alias.strip() and "\0" not in alias and not alias.strip().startswith("{"):
        assert normalize_inputs({"x": alias}) == {"x": alias}
