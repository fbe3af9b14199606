"""Fused payloads without a server: the state table (DESIGN §4), the start request, input
checks (a ConfigError naming the field, no request sent) and the log cursor over records
that share a millisecond."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as hs
from jobrelay import AsyncClient, ConfigError, JobSpec, JobState
from jobrelay.models import JobRef
from jobrelay.platforms.fused import payloads
from jobrelay.platforms.fused.platform import open_platform

from .conftest import SQUARE

REF = JobRef(platform="fused://", id="j1")


@pytest.mark.parametrize(
    ("job_status", "instance", "state"),
    [
        (None, "pending", JobState.STARTING),
        ("Pending", "pending", JobState.STARTING),
        ("Running", "running", JobState.RUNNING),
        ("Done", "terminated", JobState.SUCCEEDED),
        ("Failed", "terminated", JobState.FAILED),
        ("Canceled", "terminated", JobState.CANCELLED),
        ("Done", "running", JobState.SUCCEEDED),  # the job's own status wins
        ("Paused", "suspended", JobState.UNKNOWN),
        (None, None, JobState.UNKNOWN),
    ],
)
def test_state_table(job_status: str | None, instance: str | None, state: JobState) -> None:
    assert payloads.map_state(job_status, instance) is state


def test_an_unseen_status_is_unknown_with_the_raw_value_kept() -> None:
    run = {"job_id": "j1", "status": "hibernating", "job_status": "Paused", "total_tasks": 4}
    status = payloads.parse_status(run, REF)
    assert status.state is JobState.UNKNOWN
    assert status.platform_state == "hibernating"
    status = payloads.parse_status({**run, "status": None}, REF)
    assert status.platform_state == "Paused"


def test_progress_is_in_the_status_message_and_a_failure_names_its_exit_code() -> None:
    run = {"status": "running", "job_status": "Running", "total_tasks": 8, "finished_tasks": 3}
    assert payloads.parse_status(run, REF).message == "3 of 8 tasks finished"
    failed = {**run, "status": "terminated", "job_status": "Failed"}
    status = payloads.parse_status(failed, REF, error="RuntimeError: exit code 3")
    assert (status.state, status.exit_code) == (JobState.FAILED, 3)
    assert "exit code 3" in (status.message or "")


def test_the_start_names_the_udf_inputs_instance_and_carries_the_key() -> None:
    spec = JobSpec(
        entrypoint="udf",
        name="tiles",
        idempotency_key="nightly/2026-12-02 run",
        env={"A": "1"},
        config={
            "code": SQUARE,
            "inputs": [1, {"x": 2}],
            "parameters": {"offset": 1},
            "instance_type": "t3.small",
            "disk_size_gb": 50,
            "region": "us-west-2",
        },
    )
    query, body = payloads.build_start(spec, nonce="abc123")
    assert query == {"instance_type": "t3.small", "disk_size_gb": 50, "region": "us-west-2"}
    config = body["config"]
    assert config["metadata"]["jobrelay_idempotency_key"] == "nightly/2026-12-02 run"
    assert payloads.name_has_key(config["name"], "nightly/2026-12-02 run")
    assert not payloads.name_has_key(config["name"], "nightly/2026-12-03 run")
    assert config["name"].startswith("tiles.")
    assert config["name"].endswith(".nabc123")
    step = config["steps"][0]
    assert step["input"] == [1, {"x": 2}]
    assert step["udf"]["code"] == SQUARE
    assert step["udf"]["parameters"] == {"offset": 1}
    assert body["additional_env"] == ["A=1"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"entrypoint": "python job.py", "config": {"code": SQUARE}}, "entrypoint"),
        ({"entrypoint": "udf"}, "config.code"),
        ({"entrypoint": "udf", "config": {"code": SQUARE, "code_file": "/x.py"}}, "config.code"),
        ({"entrypoint": "udf", "config": {"code_file": "/no/such/udf.py"}}, "config.code_file"),
        ({"entrypoint": "udf", "config": {"code": SQUARE, "inputs": 3}}, "config.inputs"),
        (
            {"entrypoint": "udf", "config": {"code": SQUARE, "instance_type": "huge"}},
            "config.instance_type",
        ),
        (
            {"entrypoint": "udf", "config": {"code": SQUARE, "disk_size_gb": 0}},
            "config.disk_size_gb",
        ),
        ({"entrypoint": "udf", "config": {"code": SQUARE, "region": " "}}, "config.region"),
        ({"entrypoint": "udf", "name": "1st run", "config": {"code": SQUARE}}, "name"),
        ({"entrypoint": "udf", "config": {"code": SQUARE}, "inputs": {"d": "data:v1"}}, "inputs.d"),
    ],
)
async def test_bad_input_is_a_config_error_naming_the_field_before_any_request(
    fields: dict[str, object], field: str
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    platform = await open_platform(
        "fused://", credential="t", transport=httpx.MockTransport(handler)
    )
    async with AsyncClient(platform) as client:  # type: ignore[arg-type]
        with pytest.raises(ConfigError) as info:
            await client.submit(JobSpec(**fields))  # type: ignore[arg-type]
    assert info.value.field == field
    assert sent == []


@given(hs.text(min_size=1, max_size=200).filter(lambda k: "\0" not in k))
def test_any_key_makes_a_valid_job_name_that_finds_only_it(key: str) -> None:
    name = payloads.job_name(JobSpec(entrypoint="udf", idempotency_key=key), nonce="n1")
    assert payloads._NAME.match(name)
    assert payloads.name_has_key(name, key)
    assert not payloads.name_has_key(name, key + "x")


@given(hs.one_of(hs.text(max_size=40), hs.binary(max_size=40).map(lambda b: b.hex())))
def test_a_cursor_not_made_here_is_a_config_error(text: str) -> None:
    outcome: object
    try:
        outcome = payloads.read_log_cursor(text)
    except ConfigError as exc:  # nothing else may escape
        outcome = exc.field
    assert outcome == "cursor" or isinstance(outcome, payloads.LogCursor)


def serve(records: list[dict[str, int | str]], since: int | None) -> list[dict[str, int | str]]:
    """What the API answers to since_ms (inclusive, as measured)."""
    return [r for r in records if since is None or int(r["timestamp"]) >= since]


@given(
    ms=hs.lists(hs.integers(0, 4), min_size=1, max_size=60).map(sorted),
    cuts=hs.lists(hs.integers(0, 60), max_size=8).map(sorted),
    inclusive=hs.booleans(),
)
def test_the_cursor_gives_every_record_once_in_order_whatever_shares_a_millisecond(
    ms: list[int], cuts: list[int], inclusive: bool
) -> None:
    records = [{"message": "same text", "timestamp": 1000 + t} for t in ms]
    for i, record in enumerate(records):
        record["message"] = f"{record['message']} {i}"
    seen: list[str] = []
    cursor = payloads.LogCursor()
    for cut in [*cuts, len(records)]:  # the job printed up to `cut` by this read
        since = payloads.since_ms(cursor)
        answered = serve(records[:cut], since if inclusive or since is None else since + 1)
        lines, cursor = payloads.records_after(answered, cursor)
        cursor = payloads.read_log_cursor(payloads.write_log_cursor(cursor))  # a restart
        seen.extend(line.text for line in lines)
    assert seen == [str(r["message"]) for r in records]


OURS = "tiles.n0123456789abcdef"  # a name payloads.job_name makes
RUN = {
    "job_id": "j1",
    "job_name": OURS,
    "status": "pending",
    "terminal_status": False,
    "job_status": "Pending",
    "job_status_date": "2026-01-01T00:00:00+00:00",
    "total_tasks": 3,
    "finished_tasks": 0,
}


def listed(job_status: str, date: str = "2026-01-01T00:00:05+00:00") -> dict[str, object]:
    return {"id": "j1", "job_status": job_status, "job_status_date": date}


def test_the_list_tells_a_job_started_running_without_its_own_read() -> None:
    run = payloads.with_listed(RUN, listed("Running"))
    assert run is not None
    status = payloads.parse_status(run, REF)
    assert (status.state, status.platform_state) == (JobState.RUNNING, "Running")
    assert status.started_at is not None
    assert status.started_at.second == 5
    assert "status" not in run  # the list does not vouch for the instance


def test_a_listed_done_of_a_job_jobrelay_started_is_its_end_with_every_task() -> None:
    run = payloads.with_listed(RUN, listed("Done", "2026-01-01T00:01:00+00:00"))
    assert run is not None
    status = payloads.parse_status(run, REF)
    assert status.state is JobState.SUCCEEDED
    assert status.message == "3 of 3 tasks finished"
    assert status.ended_at is not None
    assert status.ended_at.minute == 1


@pytest.mark.parametrize(
    ("name", "job_status"),
    [
        (OURS, "Failed"),  # how far it got is part of what went wrong: read in full
        (OURS, "Canceled"),
        (OURS, "Preempted"),  # a value Fused may add later: only the instance tells
        ("someone-elses-job", "Done"),  # its step may ignore chunk errors
        ("tiles.n0123", "Done"),
    ],
)
def test_what_the_list_cannot_tell_needs_the_jobs_own_read(name: str, job_status: str) -> None:
    assert payloads.with_listed({**RUN, "job_name": name}, listed(job_status)) is None


def test_an_unchanged_listed_status_keeps_the_last_response() -> None:
    run = {**RUN, "status": "running", "job_status": "Running"}
    assert payloads.with_listed(run, listed("Running")) is run


NAMES = hs.from_regex(r"[a-zA-Z][a-zA-Z0-9_:.\-]{0,30}", fullmatch=True)


@given(
    name=NAMES,
    key=hs.none()
    | hs.text(hs.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=20).filter(
        str.strip
    ),
    nonce=hs.text("0123456789abcdef", min_size=16, max_size=16),
)
def test_every_name_jobrelay_makes_counts_as_started_by_jobrelay(
    name: str, key: str | None, nonce: str
) -> None:
    spec = JobSpec(entrypoint="udf", name=name, idempotency_key=key, config={"code": SQUARE})
    assert payloads.started_by_jobrelay(payloads.job_name(spec, nonce))


@given(hs.from_regex(r"[a-zA-Z][a-zA-Z0-9_:\-]{0,40}", fullmatch=True))
def test_a_name_given_in_another_client_does_not(name: str) -> None:
    assert not payloads.started_by_jobrelay(name)  # no ".n<nonce>" part
