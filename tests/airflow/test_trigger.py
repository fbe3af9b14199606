"""``JobTrigger``: plain serializable kwargs, one typed event, a shared client, a free loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.sdk.serde import deserialize, serialize
from airflow_jobrelay._spec import result_from_event
from airflow_jobrelay.exceptions import JobRelayConnectionError, JobRelayJobFailed
from airflow_jobrelay.operators import SubmitJobOperator
from airflow_jobrelay.triggers import JobTrigger, shared_client
from jobrelay import AuthError, Client, JobRef, JobStatus

from .conftest import PASSWORD, PLATFORM_HOME, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def client() -> Iterator[Client]:
    """A client of the test platform; jobs a test leaves running are cancelled after it."""
    refs: list[JobRef] = []
    with Client(f"local://{PLATFORM_HOME}") as c:
        original = c.submit

        def submit(spec: object, **kw: bool) -> JobRef:
            ref = original(spec, **kw)  # type: ignore[arg-type]
            refs.append(ref)
            return ref

        c.submit = submit  # type: ignore[method-assign]
        yield c
        for ref in refs:
            c.cancel(ref)


def _submit(client: Client, entrypoint: str) -> dict[str, object]:
    from jobrelay import JobSpec

    return client.submit(JobSpec(entrypoint=entrypoint)).model_dump(mode="json")


def test_trigger_round_trips_through_airflow_serde_with_plain_values_only() -> None:
    ref = {"platform": f"local://{PLATFORM_HOME}", "id": "j-1", "idempotency_key": "k"}
    operator = SubmitJobOperator(
        task_id="t",
        entrypoint="true",
        jobrelay_conn_id="jobrelay_auth",
        wait_for="running",
        queue_timeout=30,
        run_timeout=60,
        poll_interval=0.5,
    )
    classpath, kwargs = operator._trigger(ref).serialize()

    again = import_string(classpath)(**deserialize(serialize(kwargs)))

    assert again.serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain JSON values
    assert kwargs["job"] == ref
    assert (kwargs["jobrelay_conn_id"], kwargs["wait_for"]) == ("jobrelay_auth", "running")
    assert (kwargs["queue_timeout"], kwargs["run_timeout"]) == (30, 60)
    assert datetime.fromisoformat(kwargs["waiting_since"]).tzinfo is not None
    assert PASSWORD not in json.dumps(kwargs)


@pytest.mark.parametrize(
    ("entrypoint", "options", "status", "state", "phase"),
    [
        ("echo ok", {}, "succeeded", "SUCCEEDED", None),
        ("echo bad; exit 4", {}, "failed", "FAILED", None),
        ("sleep 30", {"run_timeout": 0.5}, "timeout", "CANCELLED", "run"),
    ],
    ids=["success", "failed", "run-timeout"],
)
async def test_trigger_yields_one_typed_event(
    client: Client,
    entrypoint: str,
    options: dict[str, float],
    status: str,
    state: str,
    phase: str | None,
) -> None:
    ref = _submit(client, entrypoint)
    trigger = JobTrigger(job=ref, log_cursor="0", poll_interval=0.05, **options)

    events = [event.payload async for event in trigger.run()]

    (event,) = events
    assert (event["outcome"], event["phase"], event["cursor"]) == (status, phase, "0")
    assert JobRef.model_validate(event["ref"]) == JobRef.model_validate(ref)
    final = JobStatus.model_validate(event["status"])
    assert final.ref.id == ref["id"]
    if status == "timeout":  # the trigger's status may predate the cancel landing
        final = client.wait(JobRef.model_validate(ref), raise_on_failure=False).status
    assert final.state.value == state


async def test_a_restarted_trigger_keeps_the_clock_of_the_wait_it_continues(
    client: Client,
) -> None:
    from jobrelay import JobSpec

    queue = f"held-{uuid.uuid4().hex[:8]}"
    client.create_queue(queue, max_concurrency=1)
    client.submit(JobSpec(entrypoint="sleep 60", queue=queue))  # holds the queue
    ref = client.submit(JobSpec(entrypoint="echo never", queue=queue)).model_dump(mode="json")
    # The operator deferred 90 s ago with a 60 s queue limit; the triggerer restarted since.
    operator = SubmitJobOperator(task_id="t", entrypoint="true", queue_timeout=60)
    _, kwargs = operator._trigger(ref).serialize()
    kwargs["waiting_since"] = (datetime.now(UTC) - timedelta(seconds=90)).isoformat()

    event = await asyncio.wait_for(anext(JobTrigger(**kwargs).run()), timeout=20)

    assert (event.payload["outcome"], event.payload["phase"]) == ("timeout", "queue")
    final = client.wait(JobRef.model_validate(ref), raise_on_failure=False).status
    assert final.state.value == "CANCELLED"


async def test_an_unusable_connection_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_JOBRELAY_NOSCHEME", '{"conn_type": "jobrelay", "schema": "x"}')
    ref = {"platform": "x://h", "id": "j-1"}

    (event,) = [
        e.payload async for e in JobTrigger(job=ref, jobrelay_conn_id="jobrelay_noscheme").run()
    ]

    assert (event["outcome"], event["error_type"]) == ("error", "JobRelayConnectionError")
    assert "connection 'jobrelay_noscheme'" in event["message"]
    assert event["status"] is None
    with pytest.raises(JobRelayConnectionError, match="jobrelay_noscheme"):
        result_from_event(event)


async def test_an_auth_error_on_the_triggerer_reaches_the_task_as_an_auth_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = {"conn_type": "jobrelay", "schema": "authlocal", "host": str(PLATFORM_HOME)}
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOBRELAY_WRONGTOKEN", json.dumps({**conn, "password": "not-the-token"})
    )
    ref = {"platform": f"authlocal://{PLATFORM_HOME}", "id": "j-1"}

    (event,) = [
        e.payload async for e in JobTrigger(job=ref, jobrelay_conn_id="jobrelay_wrongtoken").run()
    ]

    assert (event["outcome"], event["error_type"]) == ("error", "AuthError")
    operator = SubmitJobOperator(task_id="t", entrypoint="true")
    with pytest.raises(AuthError, match="token rejected") as raised:
        operator.execute_complete({}, event)  # type: ignore[arg-type]
    assert not isinstance(raised.value, JobRelayJobFailed)
    assert "not-the-token" not in json.dumps(event)


async def test_deferred_jobs_on_one_connection_share_one_status_call_per_tick(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await shared_client("jobrelay_default")
    assert await shared_client("jobrelay_default") is shared
    platform = await shared.platform()
    batches: list[int] = []
    real = platform.statuses

    async def statuses(refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        batches.append(len(refs))
        return await real(refs)

    monkeypatch.setattr(platform, "statuses", statuses)
    refs = [_submit(client, "sleep 1") for _ in range(3)]

    events = await asyncio.gather(*(anext(JobTrigger(job=ref).run()) for ref in refs))

    assert [e.payload["outcome"] for e in events] == ["succeeded"] * 3
    # While all three waited, each tick asked about all three in one call.
    assert batches.count(3) >= 3
    assert max(batches) == 3


def test_the_trigger_never_blocks_the_event_loop_for_100ms(client: Client) -> None:
    """A blocking call in the trigger (sync I/O, a sleep) holds the loop on every run; a
    garbage collection or the OS descheduling a busy machine can hold one callback by
    chance. So the probe runs up to three times and one clean run is required."""
    attempts: list[list[str]] = []
    for _ in range(3):
        ref = _submit(client, "for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done")
        done = subprocess.run(
            [sys.executable, "-m", "tests.airflow.loop_probe", json.dumps(ref)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["event"]["outcome"] == "succeeded"
        attempts.append(report["slow"])
        if not report["slow"]:
            break
    assert attempts[-1] == [], f"slow callbacks in every run: {attempts}"


async def test_a_following_trigger_logs_each_job_line_as_it_is_printed_and_hands_on_its_cursor(
    client: Client,
) -> None:
    """While deferred, the job's lines reach the trigger's log (Airflow shows it in the task
    log); the event's cursor is past them, so the resumed task copies nothing twice."""
    import time

    script = "for i in 1 2 3 4 5; do echo line-$i; sleep 0.3; done"
    ref = _submit(client, script)
    trigger = JobTrigger(job=ref, follow_logs=True, poll_interval=0.05)
    seen: list[tuple[float, str]] = []

    class Collect:
        """Stands in for the trigger's logger, stamping each message with its time."""

        def info(self, event: str, *args: object) -> None:
            seen.append((time.monotonic(), event % args if args else event))

    trigger._log = Collect()  # type: ignore[assignment]  # its logger, as the triggerer sets one
    events = [event.payload async for event in trigger.run()]
    ended = time.monotonic()
    lines = [(at, text) for at, text in seen if text.startswith("line-")]
    assert [text for _, text in lines] == [f"line-{i}" for i in range(1, 6)]
    assert lines[0][0] < ended - 0.8  # the first line came while the job still ran
    (event,) = events
    assert event["outcome"] == "succeeded"
    rest = [
        line.text
        for page in client.iter_logs(JobRef.model_validate(ref), event["cursor"])
        for line in page.lines
    ]
    assert rest == []  # the resumed task's copy from the cursor adds nothing


async def test_a_log_write_that_blocks_does_not_stop_the_triggers_loop(client: Client) -> None:
    """The triggerer's log is a socket its supervisor drains; while the supervisor is busy a
    write blocks. Other triggers on the loop must keep running meanwhile, and no line of
    the blocked trigger is lost or reordered."""
    import threading

    script = "for i in 1 2 3; do echo line-$i; done"
    trigger = JobTrigger(job=_submit(client, script), follow_logs=True, poll_interval=0.05)
    entered, release = threading.Event(), threading.Event()
    written: list[str] = []

    class Blocking:
        """A logger whose writes wait until the supervisor reads (``release``)."""

        def info(self, event: str, *args: object) -> None:
            entered.set()
            release.wait(10)
            written.append(event % args if args else event)

    trigger._log = Blocking()  # type: ignore[assignment]
    running = asyncio.ensure_future(_drain(trigger))
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, entered.wait, 10), "the trigger never logged"
    before = loop.time()
    await asyncio.sleep(0.01)  # another trigger's turn on the loop, while the write blocks
    stalled = loop.time() - before
    release.set()
    (event,) = await running

    assert stalled < 1.0, f"the loop stood still for {stalled:.1f} s behind a log write"
    assert event["outcome"] == "succeeded"
    assert [t for t in written if t.startswith("line-")] == ["line-1", "line-2", "line-3"]


async def _drain(trigger: JobTrigger) -> list[dict[str, object]]:
    return [event.payload async for event in trigger.run()]
