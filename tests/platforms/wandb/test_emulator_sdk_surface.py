"""The parts of the emulator the wandb SDK leans on, checked directly: the file stream's
line-offset writes, the list of fields accepted without being modelled, and refusals that
name what they refuse.
"""

from __future__ import annotations

import httpx
from graphql import build_schema
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay_emulators.wandb import WandbEmulator
from jobrelay_emulators.wandb.file_stream import apply_file_stream
from jobrelay_emulators.wandb.schema import SDL, UNMODELLED_FIELDS
from jobrelay_emulators.wandb.state import World

chunks = st.lists(
    st.tuples(st.integers(0, 12), st.lists(st.text(st.characters(codec="utf-8"), max_size=5))),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(writes=chunks, before=st.lists(st.text("abc", max_size=3), max_size=3))
def test_file_stream_lines_land_at_their_offset_after_what_the_agent_captured(
    writes: list[tuple[int, list[str]]], before: list[str]
) -> None:
    world = World("e")
    run, _ = world.upsert_run("e", "p", "r")
    world.append_run_file(run, "output.log", "".join(f"{line}\n" for line in before).encode())
    model = list(before)
    for offset, content in writes:
        apply_file_stream(
            world, run, {"files": {"output.log": {"offset": offset, "content": content}}}
        )
        start = len(before) + offset
        model.extend([""] * max(0, start - len(model)))
        model[start : start + len(content)] = [c.rstrip("\n") for c in content]
    stored = world.blobs[run.files["output.log"].storage_path].decode()
    assert stored == "".join(f"{line}\n" for line in model)


def test_the_summary_is_the_last_line_and_history_rows_are_kept_in_step_order() -> None:
    world = World("e")
    run, _ = world.upsert_run("e", "p", "r")
    history = ['{"_step": 0, "loss": 1}', '{"_step": 1, "loss": 0.5}']
    ignored = apply_file_stream(
        world,
        run,
        {
            "files": {
                "wandb-history.jsonl": {"offset": 0, "content": history},
                "wandb-summary.json": {"offset": 0, "content": ['{"loss": 1}', '{"loss": 0.5}']},
            },
            "uploaded": ["config.yaml"],
        },
    )
    assert run.summary == {"loss": 0.5}
    assert [row["_step"] for row in run.history] == [0, 1]
    assert ignored == ["uploaded"]
    apply_file_stream(world, run, {"complete": True, "exitcode": 2})
    assert (run.state, run.exitcode) == ("failed", 2)


def test_every_field_listed_as_unmodelled_is_in_the_schema_so_the_sdk_may_send_it() -> None:
    schema = build_schema(SDL)
    for name in UNMODELLED_FIELDS:
        type_name, field_name = name.split(".")
        kind = schema.get_type(type_name)
        assert kind is not None, name
        assert field_name in kind.fields, name  # type: ignore[attr-defined]


def test_run_files_with_a_path_outside_the_run_are_refused_by_name(
    emulator: WandbEmulator,
) -> None:
    emulator.world.upsert_run(emulator.entity, "proj", "r1")
    query = (
        "mutation CreateRunFiles($files: [String!]!) { createRunFiles(input: "
        '{entityName: "emulator", projectName: "proj", runName: "r1", files: $files}) '
        "{ files { name uploadUrl } } }"
    )
    response = httpx.post(
        f"{emulator.url}/graphql",
        json={"query": query, "variables": {"files": ["ok.txt", "../escape.txt"]}},
        auth=("api", emulator.api_key),
    )
    assert "invalid run file name '../escape.txt'" in response.json()["errors"][0]["message"]


def test_a_run_filter_the_emulator_does_not_model_is_an_error_naming_it(
    emulator: WandbEmulator,
) -> None:
    emulator.world.upsert_run(emulator.entity, "proj", "r1")
    query = (
        'query Runs($f: JSONString) { project(name: "proj", entityName: "emulator") '
        "{ runCount(filters: $f) } }"
    )
    response = httpx.post(
        f"{emulator.url}/graphql",
        json={"query": query, "variables": {"f": '{"sweep": "x"}'}},
        auth=("api", emulator.api_key),
    )
    assert "does not filter runs by 'sweep'" in response.json()["errors"][0]["message"]
    response = httpx.post(
        f"{emulator.url}/graphql",
        json={"query": query, "variables": {"f": '{"state": {"$in": ["running"]}}'}},
        auth=("api", emulator.api_key),
    )
    assert response.json()["data"]["project"]["runCount"] == 1
