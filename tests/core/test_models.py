"""JobSpec validation: bad input is a ConfigError naming the field, before anything is sent."""

from __future__ import annotations

import pytest
from jobrelay import ArtifactRef, ConfigError, JobRef, JobSpec, JobState, JobStatus


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"entrypoint": ""}, "entrypoint"),
        ({"entrypoint": "   "}, "entrypoint"),
        ({"entrypoint": []}, "entrypoint"),
        ({"entrypoint": "true", "timeout_s": -1}, "timeout_s"),
        ({"entrypoint": "true", "timeout_s": 0}, "timeout_s"),
        ({"entrypoint": "true", "max_retries": -2}, "max_retries"),
        ({"entrypoint": "true", "env": {"A=B": "x"}}, "env"),
        ({"entrypoint": "true", "no_such_field": 1}, "no_such_field"),
    ],
)
def test_bad_spec_raises_config_error_naming_the_field(
    fields: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        JobSpec(**fields)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}:")


def test_states_classify_themselves() -> None:
    assert {s for s in JobState if s.is_terminal} == {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
    }
    assert {s for s in JobState if s.is_active} == {
        JobState.QUEUED,
        JobState.STARTING,
        JobState.RUNNING,
    }
    assert JobState.QUEUED.is_waiting
    assert not JobState.RUNNING.is_waiting
    assert not JobState.UNKNOWN.is_terminal
    assert not JobState.UNKNOWN.is_active


def test_status_with_unseen_fields_is_accepted_and_round_trips_as_json() -> None:
    ref = JobRef(platform="local:///tmp/x", id="j-1")
    artifact = ArtifactRef(
        uri="file:///a", name="model", version="v1", digest="sha256:00", size=3, producer=ref
    )
    status = JobStatus.model_validate(
        {
            "ref": ref.model_dump(),
            "state": "RUNNING",
            "platform_state": "running",
            "brand_new_field": 1,
            "outputs": {"model": artifact.model_dump()},
        }
    )
    again = JobStatus.model_validate_json(status.model_dump_json())
    assert again == status
    assert again.outputs["model"].producer == ref
