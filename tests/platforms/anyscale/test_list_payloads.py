"""The Anyscale request builders and listing readers that moved out of the platform class
into ``payloads`` (issue 29), as properties over drawn inputs. The platform's use of them
against the emulator is in ``test_platform.py``."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay import JobState
from jobrelay.platforms.anyscale import payloads

PROPERTIES = settings(max_examples=50, deadline=None)
NAMES = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=20)
IDS = st.text(alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=12)


@PROPERTIES
@given(
    count=st.integers(min_value=-(10**6), max_value=10**6),
    archived=st.booleans(),
    filters=st.dictionaries(st.sampled_from(["tag_filter", "job_queue_id", "state_filter"]), IDS),
)
def test_job_list_params_page_within_the_api_limit_newest_first(
    count: int, archived: bool, filters: dict[str, str]
) -> None:
    params = payloads.job_list_params(count=count, archived=archived, **filters)
    assert 1 <= params["count"] <= payloads.JOB_LIST_MAX
    if 1 <= count <= payloads.JOB_LIST_MAX:
        assert params["count"] == count
    assert params["archive_status"] == ("ALL" if archived else "NOT_ARCHIVED")
    assert (params["type_filter"], params["sort_field"], params["sort_order"]) == (
        "BATCH_JOB",
        "CREATED_AT",
        "DESC",
    )
    assert {name: params[name] for name in filters} == filters


JOBS = st.lists(
    st.fixed_dictionaries(
        {"id": IDS},
        optional={
            "tags": st.dictionaries(st.sampled_from(["k", "other"]), st.sampled_from("abc")),
            "position_in_job_queue": st.integers(min_value=0, max_value=50),
        },
    ),
    max_size=8,
)


@PROPERTIES
@given(listed=JOBS, value=st.sampled_from("abc"))
def test_tagged_job_never_takes_a_job_tagged_otherwise(
    listed: list[dict[str, Any]], value: str
) -> None:
    found = payloads.tagged_job(listed, "k", value)
    fitting = [j for j in listed if "tags" not in j or j["tags"].get("k") == value]
    assert found == (fitting[0] if fitting else None)
    if found is not None and "tags" in found:
        assert found["tags"]["k"] == value


@PROPERTIES
@given(listed=JOBS, job_id=IDS)
def test_queue_position_is_the_listed_jobs_own(listed: list[dict[str, Any]], job_id: str) -> None:
    position = payloads.queue_position(listed, job_id)
    mine = [j for j in listed if j["id"] == job_id]
    assert position == (mine[0].get("position_in_job_queue") if mine else None)


@PROPERTIES
@given(
    name=NAMES,
    version=st.one_of(st.none(), st.integers(min_value=0, max_value=999), NAMES),
    cloud=st.one_of(st.none(), IDS),
)
def test_compute_search_names_the_config_and_its_version(
    name: str, version: int | str | None, cloud: str | None
) -> None:
    compute = name if version is None else f"{name}:{version}"
    body = payloads.compute_search_body(compute, cloud)
    assert body["name"] == {"equals": name}
    expected = version if isinstance(version, int) else -1  # no or a non-numeric version: newest
    if isinstance(version, str) and version.isdigit():
        expected = int(version)
    assert body["version"] == expected
    assert body.get("cloud_id") == cloud
    assert ("cloud_id" in body) == (cloud is not None)


@PROPERTIES
@given(job_ids=st.lists(IDS, max_size=10))
def test_runs_search_asks_for_every_job_in_order(job_ids: list[str]) -> None:
    body = payloads.runs_search_body(job_ids)
    assert body["ha_job_ids"] == job_ids
    assert body["sort_by_clauses"] == [{"sort_field": "CREATED_AT", "sort_order": "ASC"}]


@PROPERTIES
@given(
    current=st.one_of(
        st.none(),
        st.sampled_from(["PENDING", "RUNNING", "SUCCESS", "TERMINATED", "BROKEN", "??"]),
    )
)
def test_settled_state_reads_the_current_state_out_of_any_queue(current: str | None) -> None:
    job: dict[str, Any] = {"id": "prodjob_1", "state": {"current_state": current}}
    assert payloads.settled_state(job) == payloads.map_state(current or "", in_queue=False)
    assert payloads.settled_state({"id": "prodjob_1"}) == payloads.map_state("", in_queue=False)
    if current == "PENDING":
        assert payloads.settled_state(job) is not JobState.QUEUED
