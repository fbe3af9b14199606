"""``JobRelayResource.run``/``submit_and_wait`` and ``JobRelayPipesClient.run`` refuse every bad
argument before anything is sent (hypothesis): a ``ConfigError`` naming the argument
(``wait.NAME`` for an unknown key of a ``wait`` dict), never an ``AttributeError`` or a
``TypeError``, and the local platform (a temp home) has no job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_jobrelay import JobRelayPipesClient, JobRelayResource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError, WaitLimits
from jobrelay.integration import run_sync

from tests.core.test_validation_fuzz import bad_flags, bad_seconds, bad_spec_fields, bad_specs

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
WAIT_FIELDS = ("queue_timeout", "run_timeout", "timeout", "cancel_on_timeout")


def bad_wait(draw: st.DrawFn) -> tuple[Any, str]:
    """A bad ``wait`` argument and the field its refusal names."""
    kind = draw(st.sampled_from(["options", "dict", "unknown", "type"]))
    name = draw(st.sampled_from(WAIT_FIELDS))
    # cancel_on_timeout is a flag, though its name ends like the limits
    value = draw(bad_flags if name == "cancel_on_timeout" else bad_seconds)
    if kind == "options":
        return {"__options__": {name: value}}, name
    if kind == "dict":
        return {name: value}, name
    if kind == "unknown":
        key = draw(st.sampled_from(["poll", "queue_timout", "deadline"]))
        return {key: 5}, f"wait.{key}"
    return draw(st.one_of(st.integers(), st.text(max_size=3), st.just([1]))), "wait"


def _jobs(url: str) -> int:
    async def count(client: AsyncClient) -> int:
        return len(await client.list_jobs(limit=1000))

    return run_sync(lambda: AsyncClient(url), count)


@pytest.fixture
def context(instance: Any) -> Any:
    return dg.build_asset_context(instance=instance)


def _arguments(data: st.DataObject) -> tuple[dict[str, Any], tuple[str, ...]]:
    which = data.draw(
        st.sampled_from(["spec", "spec_field", "wait", "inputs", "output", "follow_logs"])
    )
    if which == "spec":
        return {"spec": data.draw(bad_specs)}, ("spec",)
    if which == "spec_field":
        fields = data.draw(bad_spec_fields)
        return {"spec": {"entrypoint": "true", **fields}}, tuple(fields)
    if which == "inputs":
        bad = data.draw(st.one_of(st.integers(), st.just({"m": 3}), st.just({"i" * 300: "m:x"})))
        return {"inputs": bad}, ("inputs",)
    if which == "follow_logs":
        return {"follow_logs": data.draw(bad_flags)}, ("follow_logs",)
    if which == "output":
        return {"output": data.draw(st.one_of(st.integers(), st.just(["m"])))}, ("output",)
    wait, field = data.draw(st.composite(bad_wait)())
    if isinstance(wait, dict) and "__options__" in wait:
        # WaitLimits itself refuses as it is made: before any run at all
        with pytest.raises(ConfigError) as info:
            WaitLimits(**wait["__options__"])
        assert info.value.field == field
        wait = {}
    return {"wait": wait}, (field,)


@SETTINGS
@given(data=st.data())
def test_the_resource_refuses_every_bad_argument_before_the_submit(
    data: st.DataObject, context: Any, tmp_path: Path
) -> None:
    url = f"local://{tmp_path}/home?autostart=0"
    resource = JobRelayResource(platform=url)
    kwargs, names = _arguments(data)
    if kwargs.get("wait") == {}:
        return  # refused above, as WaitLimits was made
    kwargs.setdefault("spec", {"entrypoint": "true"})
    with pytest.raises(ConfigError) as info:
        resource.run(context, idempotency_key="fuzz", **kwargs)
    field = info.value.field or ""
    assert field in names or field.split(".")[0] in names, info.value
    assert _jobs(url) == 0


@SETTINGS
@given(data=st.data())
def test_the_pipes_client_refuses_every_bad_argument_before_the_session(
    data: st.DataObject, context: Any, tmp_path: Path
) -> None:
    url = f"local://{tmp_path}/home?autostart=0"
    pipes = JobRelayPipesClient(jobrelay=JobRelayResource(platform=url))
    kwargs, names = _arguments(data)
    kwargs.pop("output", None)
    kwargs.pop("follow_logs", None)  # Pipes always follows the log: its messages are there
    if not kwargs or kwargs.get("wait") == {}:
        return
    if data.draw(st.booleans()):
        kwargs, names = {"spec": {"entrypoint": "true", "env": ["A=B"]}}, ("env",)
    kwargs.setdefault("spec", {"entrypoint": "true"})
    with pytest.raises(ConfigError) as info:
        pipes.run(context=context, **kwargs)
    field = info.value.field or ""
    assert field in names or field.split(".")[0] in names, info.value
    assert _jobs(url) == 0
