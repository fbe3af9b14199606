"""Properties of the W&B payload functions that read what jobrelay wrote: the run id and
owner come back out of any launch spec jobrelay builds (as the item's JSON text or parsed),
any other ``runSpec`` gives None without raising, and the log cursor is a byte offset that
reads back exactly, anything else a ConfigError naming the cursor."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from jobrelay import JobSpec
from jobrelay.errors import ConfigError
from jobrelay.integration import Owner
from jobrelay.platforms.wandb.payloads import (
    build_launch_spec,
    log_offset,
    node_metadata,
    owner_in_spec,
    run_id_for_key,
    spec_run_id,
)
from jobrelay.platforms.wandb.settings import WandbTarget
from pydantic import SecretStr

TARGET = WandbTarget(
    base_url="https://api.wandb.ai",
    entity="team",
    project="vision",
    queue="default",
    api_key=SecretStr("k" * 40),
    queue_entity="team",
    docker_image="python:3.11",
)
PROPS = settings(max_examples=50, deadline=None)
words = hs.text(hs.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
json_values = hs.recursive(
    hs.none() | hs.booleans() | hs.integers() | hs.text(max_size=10),
    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=5), inner),
    max_leaves=8,
)


owners = hs.builds(
    lambda unit: str(Owner("airflow", "prod", tuple(unit))),
    hs.lists(
        hs.text(hs.characters(exclude_characters="\0"), min_size=1, max_size=8),
        min_size=1,
        max_size=3,
    ),
)


@PROPS
@given(key=hs.none() | words, owner=hs.none() | owners, as_text=hs.booleans())
def test_the_run_id_and_owner_come_back_out_of_a_built_launch_spec(
    key: str | None, owner: str | None, as_text: bool
) -> None:
    run_id = run_id_for_key(TARGET, key)
    launch = build_launch_spec(JobSpec(entrypoint="python train.py", owner=owner), TARGET, run_id)
    run_spec: object = json.dumps(launch) if as_text else launch
    assert spec_run_id(run_spec) == run_id
    assert owner_in_spec(run_spec) == owner


@PROPS
@given(run_spec=json_values | hs.text(max_size=40))
def test_any_other_run_spec_reads_as_none_or_text_and_never_raises(run_spec: object) -> None:
    for form in (run_spec, json.dumps(run_spec)):
        found = spec_run_id(form)
        owner = owner_in_spec(form)
        assert found is None or isinstance(found, str)
        assert owner is None or isinstance(owner, str)
    if not isinstance(run_spec, dict) or not run_spec.get("run_id"):
        assert spec_run_id(run_spec if not isinstance(run_spec, str) else None) is None
        assert spec_run_id(json.dumps(run_spec)) is None


@PROPS
@given(offset=hs.integers(min_value=0, max_value=2**62))
def test_a_log_cursor_reads_back_as_its_offset(offset: int) -> None:
    assert log_offset(str(offset)) == offset


@PROPS
@given(cursor=hs.integers(max_value=-1).map(str) | hs.text(max_size=12))
def test_anything_else_is_a_config_error_naming_the_cursor(cursor: str) -> None:
    try:
        value = int(cursor)
    except ValueError:
        value = -1
    if cursor == "" or value >= 0:
        return  # the start, or a real offset (" 7" is 7, as int reads it)
    with pytest.raises(ConfigError) as raised:
        log_offset(cursor)
    assert raised.value.field == "cursor"
    assert repr(cursor) in str(raised.value)


def test_no_cursor_is_the_start() -> None:
    assert log_offset(None) == 0
    assert log_offset("") == 0


@PROPS
@given(metadata=json_values, junk=hs.text(max_size=40))
def test_an_artifact_nodes_metadata_is_its_json_object_or_empty(
    metadata: object, junk: str
) -> None:
    wire = json.dumps(metadata)
    found = node_metadata({"metadata": wire})
    assert found == (metadata if isinstance(metadata, dict) else {})
    found["changed"] = True  # a new dict each time: the node is not changed through it
    assert "changed" not in node_metadata({"metadata": wire})
    assert isinstance(node_metadata({"metadata": junk}), dict)  # any text: never raises
    assert node_metadata({}) == {}


def test_a_target_in_another_project_keeps_the_server_and_key() -> None:
    other = TARGET.in_project("lab", "nlp")
    assert (other.entity, other.project) == ("lab", "nlp")
    assert (other.base_url, other.api_key, other.queue) == (
        TARGET.base_url,
        TARGET.api_key,
        TARGET.queue,
    )
    assert other.platform_url.startswith("wandb://lab/nlp?")
