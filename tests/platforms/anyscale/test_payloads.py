"""Pure builders and parsers of the Anyscale platform, from the wire facts in
``reference/anyscale.md`` and ``reference/sdk-measured.md``."""

from __future__ import annotations

import gzip
import string
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError, JobRef, JobSpec, JobState
from jobrelay.platforms.anyscale import payloads

REF = JobRef(platform="anyscale://", id="prodjob_1")
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize(
    ("wire", "in_queue", "expected"),
    [
        ("PENDING", True, JobState.QUEUED),
        ("PENDING", False, JobState.STARTING),
        ("AWAITING_CLUSTER_START", False, JobState.STARTING),
        ("UPDATING", False, JobState.RUNNING),
        ("RUNNING", False, JobState.RUNNING),
        ("RESTARTING", False, JobState.RUNNING),
        ("CLEANING_UP", False, JobState.RUNNING),
        ("ERRORED", False, JobState.RUNNING),
        ("SUCCESS", False, JobState.SUCCEEDED),
        ("TERMINATED", False, JobState.CANCELLED),
        ("BROKEN", False, JobState.FAILED),
        ("OUT_OF_RETRIES", False, JobState.FAILED),
    ],
)
def test_every_wire_state_maps_as_the_design_table_says(
    wire: str, in_queue: bool, expected: JobState
) -> None:
    assert payloads.map_state(wire, in_queue=in_queue) is expected


@given(raw=st.text(string.ascii_uppercase + "_", min_size=1, max_size=20))
def test_an_unseen_state_is_unknown_and_keeps_its_raw_value(raw: str) -> None:
    known = {*payloads._STATES}
    if raw in known:
        return
    status = payloads.parse_status({"id": "prodjob_1", "state": {"current_state": raw}}, REF)
    assert status.state is JobState.UNKNOWN
    assert status.platform_state == raw


def test_a_queued_job_carries_its_queue_and_position_and_runs_count_as_attempts() -> None:
    job = {
        "id": "prodjob_1",
        "state": {"current_state": "PENDING"},
        "job_queue_id": "jq_1",
        "job_queue": {"id": "jq_1", "name": "gpu"},
        "position_in_job_queue": 3,
    }
    status = payloads.parse_status(job, REF)
    assert (status.state, status.queue, status.queue_position) == (JobState.QUEUED, "gpu", 3)
    failed = {
        "id": "prodjob_1",
        "state": {"current_state": "OUT_OF_RETRIES", "error": "failed with exit code 3"},
    }
    runs = [{"id": "r1", "created_at": "2026-01-01T00:00:00Z"}, {"id": "r2"}]
    parsed = payloads.parse_status(failed, REF, runs=runs)
    assert (parsed.attempt, parsed.exit_code) == (2, 3)


def test_the_create_body_omits_nulls_and_carries_env_retries_timeout_tags_and_queue() -> None:
    spec = JobSpec(
        entrypoint=["python", "train.py", "--lr", "0.1"],
        env={"A": "1"},
        max_retries=2,
        timeout_s=60,
        tags={"team": "vision"},
        idempotency_key="dag.task.1",
        queue="gpu",
        priority=5,
        config={"requirements": ["requests==2.32.3"]},
    )
    body = payloads.build_create_body(
        spec, name="n", project_id="prj_1", build_id="bld_1", compute_config_id="cpt_1"
    )
    assert body == {
        "name": "n",
        "project_id": "prj_1",
        "config": {
            "entrypoint": "python train.py --lr 0.1",
            "build_id": "bld_1",
            "compute_config_id": "cpt_1",
            "max_retries": 2,
            "timeout_s": 60,
            "runtime_env": {"env_vars": {"A": "1"}, "pip": ["requests==2.32.3"]},
        },
        "tags": {"team": "vision", payloads.KEY_TAG: "dag.task.1"},
        "job_queue_config": {"target_job_queue_name": "gpu", "priority": 995},
    }


def test_a_queue_spec_creates_the_queue_with_the_jobs_compute_config() -> None:
    spec = JobSpec(
        entrypoint="true",
        queue="q",
        config={"job_queue": {"max_concurrency": 2, "execution_mode": "PRIORITY"}},
    )
    body = payloads.build_create_body(
        spec, name="n", project_id="p", build_id="b", compute_config_id="cpt_9"
    )
    assert body["job_queue_config"] == {
        "job_queue_spec": {
            "job_queue_name": "q",
            "execution_mode": "PRIORITY",
            "max_concurrency": 2,
            "idle_timeout_sec": 600,
            "compute_config_id": "cpt_9",
        }
    }


BAD: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "working_dir": st.sampled_from(["/nonexistent/src", "~/no-such-project-dir", "no/such"]).map(
        lambda d: {"working_dir": d}
    ),
    "timeout_s": st.floats(0.01, 1e6).filter(lambda f: f != int(f)).map(lambda f: {"timeout_s": f}),
    "priority": st.integers(1, 10).map(lambda p: {"priority": p}),  # without a queue
    "config.requirements": st.sampled_from(["requests", [1], [""], {"a": 1}]).map(
        lambda r: {"config": {"requirements": r}}
    ),
    "config.job_queue": st.sampled_from(
        [{"max_concurrency": 0}, {"execution_mode": "RANDOM"}, {"bogus": 1}, "q"]
    ).map(lambda q: {"queue": "q", "config": {"job_queue": q}}),
    "config.compute_config": st.sampled_from(["", " ", 3]).map(
        lambda c: {"config": {"compute_config": c}}
    ),
    "tags": st.sampled_from([{payloads.KEY_TAG: "x"}, {"a": ""}]).map(lambda t: {"tags": t}),
}


class Counting(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url}")
        return httpx.Response(503)


@HYPOTHESIS
@given(data=st.data(), field=st.sampled_from(sorted(BAD)))
async def test_bad_input_is_a_config_error_naming_the_field_and_sends_nothing(
    data: st.DataObject, field: str
) -> None:
    fields = data.draw(BAD[field])
    spec = JobSpec(entrypoint="echo hi", idempotency_key="k", **fields)
    counting = Counting()
    async with AsyncClient("anyscale://", credential="aph0_x", transport=counting) as client:
        with pytest.raises(ConfigError) as info:
            await client.submit(spec)
    assert info.value.field == field
    assert counting.requests == []


async def test_no_credential_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANYSCALE_CLI_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        await AsyncClient("anyscale://").platform()
    assert info.value.field == "credential"
    assert "ANYSCALE_CLI_TOKEN" in str(info.value)


@given(text=st.text(st.characters(blacklist_categories=["Cs"]), max_size=200))
def test_a_gzipped_chunk_decodes_like_a_plain_one(text: str) -> None:
    raw = text.encode()
    assert payloads.decode_chunk(gzip.compress(raw)) == payloads.decode_chunk(raw) == text


def test_an_open_chunk_holds_back_its_unfinished_last_line() -> None:
    lines, read = payloads.chunk_lines("a\nb\npart", skip=1, final=False)
    assert ([line.text for line in lines], read) == (["b"], 2)
    lines, read = payloads.chunk_lines("a\nb\npartial", skip=2, final=True)
    assert ([line.text for line in lines], read) == (["partial"], 3)
