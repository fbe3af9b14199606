"""Every argument of ``AsyncClient.run``/``submit``/``wait``, drawn bad, is refused before
any request (hypothesis).

The refusal is a ``ConfigError`` naming the argument, never another exception type; the
local platform (a temp home, no agent) has no job afterwards and a hosted URL's counting
transport saw no request. Platform URLs whose host would be ignored and empty platform
names are refused as the client opens.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError, JobRef, JobSpec, JobState
from jobrelay.errors import JobRelayError
from jobrelay.waiting import PollPolicy

from tests.platforms.test_settings_contract import KEY, SCHEMES, Counting

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# -- bad values, by kind (shared by the adapters' fuzz tests) ------------------------------

bad_seconds = st.one_of(
    st.booleans(),
    st.text(max_size=4),
    st.sampled_from([math.nan, math.inf, -math.inf, 0, 0.0, -1, 2e9, [1], {}]),
    st.floats(max_value=0, allow_nan=False),
    st.integers(max_value=0),
)
bad_flags = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.floats(), st.just([True]))
bad_specs = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.just({1: "x"}),
)
# Valid-looking specs a platform could not store: each is refused by JobSpec itself.
bad_spec_fields = st.one_of(
    st.integers(max_value=-1001).map(lambda p: {"priority": p}),
    st.integers(min_value=1001).map(lambda p: {"priority": p}),
    st.just({"priority": -(2**63) - 1}),
    st.integers(min_value=1001, max_value=2**70).map(lambda n: {"max_retries": n}),
    st.just({"name": "n" * 201}),
    st.just({"queue": "q" * 129}),
    st.just({"inputs": {"i" * 300: "model:latest"}}),
    st.sampled_from(["", ".", "..", "a/b", "-x"]).map(lambda n: {"inputs": {n: "model:latest"}}),
    st.just({"tags": {"": "x"}}),
    st.just({"timeout_s": 1e12}),
    st.just({"env": {"A" * 300: "x"}}),
)
bad_callables = st.one_of(st.integers(), st.text(max_size=3), st.just([print]))
bad_refs = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just({"id": "x"}))


def bad_wait_option(draw: st.DrawFn) -> tuple[str, Any]:
    """One ``AsyncClient.wait`` option with a bad value (or an unknown option's name)."""
    name = draw(
        st.sampled_from(
            [
                "until",
                "queue_timeout",
                "run_timeout",
                "timeout",
                "cancel_on_timeout",
                "on_update",
                "follow_logs",
                "log_cursor",
                "raise_on_failure",
                "since",
                "unknown",
            ]
        )
    )
    values: dict[str, st.SearchStrategy[Any]] = {
        "until": st.one_of(st.sampled_from([JobState.QUEUED, JobState.FAILED, "RUNNING", None, 1])),
        "queue_timeout": bad_seconds,
        "run_timeout": bad_seconds,
        "timeout": bad_seconds,
        "cancel_on_timeout": bad_flags,
        "on_update": bad_callables,
        "follow_logs": bad_flags,
        "log_cursor": st.one_of(st.integers(), st.just(["c"])),
        "raise_on_failure": bad_flags,
        "since": st.one_of(st.just(datetime(2026, 1, 1)), st.text(max_size=3), st.integers()),
        "unknown": st.integers(),
    }
    if name == "unknown":
        return draw(st.sampled_from(["queue_timout", "poll", "deadline"])), draw(st.integers())
    return name, draw(values[name])


bad_wait_options = st.composite(bad_wait_option)()
WAIT_NAMES = frozenset(
    {
        *("until", "queue_timeout", "run_timeout", "timeout", "cancel_on_timeout"),
        *("on_update", "follow_logs", "log_cursor", "raise_on_failure", "since"),
    }
)

# -- the surfaces ---------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> str:
    return f"local://{tmp_path}/home?autostart=0"


async def _jobs(url: str) -> int:
    async with AsyncClient(url) as client:
        return len(await client.list_jobs(limit=1000))


def _assert_names(exc: BaseException, *names: str) -> None:
    assert isinstance(exc, ConfigError), f"{type(exc).__name__}: {exc}"
    assert exc.field in names, f"field {exc.field!r}, expected one of {names}: {exc}"


async def _refused_everywhere(call: Any, names: tuple[str, ...], home: str) -> None:
    """``call(client)`` on the local platform and on a hosted URL: a ConfigError naming
    one of ``names``, no job, no request."""
    counting = Counting()
    for client in (AsyncClient(home), AsyncClient(SCHEMES["ray"], transport=counting)):
        async with client:
            try:
                await call(client)
            except JobRelayError as exc:
                _assert_names(exc, *names)
            else:
                raise AssertionError("accepted")
    assert counting.requests == []
    assert await _jobs(home) == 0


@SETTINGS
@given(data=st.data())
async def test_run_refuses_every_bad_argument_before_it_submits(
    data: st.DataObject, home: str
) -> None:
    which = data.draw(
        st.sampled_from(["spec", "spec_field", "cancel_on_kill", "on_submit", "wait"])
    )
    spec: Any = JobSpec(entrypoint="true")
    kwargs: dict[str, Any] = {}
    names: tuple[str, ...]
    if which == "spec":
        spec, names = data.draw(bad_specs), ("spec",)
    elif which == "spec_field":
        fields = data.draw(bad_spec_fields)
        spec, names = {"entrypoint": "true", **fields}, tuple(fields)
    elif which == "cancel_on_kill":
        kwargs["cancel_on_kill"], names = data.draw(bad_flags), ("cancel_on_kill",)
    elif which == "on_submit":
        kwargs["on_submit"], names = data.draw(bad_callables), ("on_submit",)
    else:
        name, value = data.draw(bad_wait_options)
        kwargs[name], names = value, (name,)
    await _refused_everywhere(lambda client: client.run(spec, **kwargs), names, home)


@SETTINGS
@given(data=st.data())
async def test_submit_refuses_a_bad_spec_before_any_request(data: st.DataObject, home: str) -> None:
    if data.draw(st.booleans()):
        spec: Any = data.draw(bad_specs)
        names: tuple[str, ...] = ("spec",)
    else:
        fields = data.draw(bad_spec_fields)
        spec, names = {"entrypoint": "true", **fields}, tuple(fields)
    await _refused_everywhere(lambda client: client.submit(spec), names, home)


@SETTINGS
@given(data=st.data())
async def test_wait_refuses_a_bad_ref_or_option_before_any_request(
    data: st.DataObject, home: str
) -> None:
    good = object()
    if data.draw(st.booleans()):
        ref: Any = data.draw(bad_refs)
        kwargs: dict[str, Any] = {}
        names: tuple[str, ...] = ("ref",)
    else:  # (an unknown keyword is Python's TypeError: wait's keywords are fixed)
        name, value = data.draw(bad_wait_options.filter(lambda o: o[0] in WAIT_NAMES))
        ref, kwargs, names = good, {name: value}, (name,)

    async def call(client: AsyncClient) -> None:
        target = JobRef(platform=(await client.platform()).url, id="j-1") if ref is good else ref
        await client.wait(target, **kwargs)

    await _refused_everywhere(call, names, home)


poll_fields = st.sampled_from(["initial_s", "max_s", "backoff", "jitter", "outage_s"])
bad_poll_values = {
    "initial_s": st.one_of(bad_seconds, st.just(-0.5)),
    "max_s": st.one_of(st.just(0.01), st.just(math.inf), st.booleans(), st.text(max_size=2)),
    "backoff": st.one_of(st.floats(max_value=0.99), st.just(math.nan), st.text(max_size=2)),
    "jitter": st.one_of(st.floats(min_value=1.0, allow_infinity=False), st.floats(max_value=-0.01)),
    "outage_s": st.one_of(st.floats(max_value=-0.01), st.just(math.nan)),
}


@SETTINGS
@given(data=st.data(), field=poll_fields)
def test_a_poll_policy_that_would_not_poll_is_refused_as_it_is_made(
    data: st.DataObject, field: str
) -> None:
    value = data.draw(bad_poll_values[field])
    with pytest.raises(ConfigError) as info:
        PollPolicy(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("url", "options", "field"),
    [
        ("anyscale://somehost", {}, "platform"),
        ("fused://somehost", {}, "platform"),
        ("fused:///a/path", {}, "platform"),
        ("anyscale://?compute_config=", {}, "compute_config"),
        ("anyscale://", {"cloud": ""}, "cloud"),
        ("anyscale://", {"image": "  "}, "image"),
        ("anyscale://", {"project": ""}, "project"),
    ],
)
async def test_an_ignored_host_or_an_empty_name_is_refused_as_the_client_opens(
    url: str, options: dict[str, Any], field: str
) -> None:
    counting = Counting()
    with pytest.raises(ConfigError) as info:
        async with AsyncClient(url, credential=KEY, transport=counting, **options) as client:
            await client.submit(JobSpec(entrypoint="true"))
    assert info.value.field == field
    assert counting.requests == []


async def test_a_client_store_a_native_artifact_platform_would_ignore_is_refused(
    tmp_path: Path,
) -> None:
    # A store object the platform would not use (Fused keeps outputs in its own store).
    from jobrelay.artifacts.registry import open_store

    counting = Counting()
    url = f"fused://?base_url=http://127.0.0.1:9&artifacts=file://{tmp_path}/own"
    other = open_store(f"file://{tmp_path}/other")
    async with AsyncClient(url, credential=KEY, transport=counting, artifacts=other) as c:
        with pytest.raises(ConfigError) as info:
            await c.submit(JobSpec(entrypoint="udf", config={"code": "x"}))
    assert info.value.field == "artifacts"
    assert counting.requests == []


async def test_a_client_store_url_is_the_platforms_own_store_where_it_takes_one(
    tmp_path: Path,
) -> None:
    # AsyncClient(url, artifacts=URL): one name, one store, also on Fused, whose jobs'
    # result files go there (before, the keyword was silently ignored on Fused).
    given = f"file://{tmp_path}/given"
    url = "fused://?base_url=http://127.0.0.1:9"
    async with AsyncClient(url, credential=KEY, transport=Counting(), artifacts=given) as c:
        assert (await c.artifact_store()).url.rstrip("/") == given
