"""Every bad value is refused before anything is sent, naming what is wrong (hypothesis).

Generated invalid job specs, platform URLs and options, artifact names, aliases, types and
metadata, on every platform: the error is a ``ConfigError`` (or ``ArtifactError``) naming the
field, never a raw exception, and a counting transport saw no request (the local platform:
no job, no artifact version written).
"""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError, JobSpec
from jobrelay.artifacts import LocalArtifactStore
from jobrelay.errors import ArtifactError, JobRelayError
from jobrelay.platforms import open_platform
from jobrelay.platforms.wandb import open_store

from tests.platforms.test_settings_contract import KEY, SCHEMES, Counting

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
with_nul = st.text(min_size=0, max_size=10).map(lambda t: t + "\0" + t)
nan_like = st.sampled_from([math.nan, math.inf, -math.inf])

# field -> strategy of values that field must refuse
BAD_SPEC_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "entrypoint": st.one_of(with_nul, st.just(""), st.just("   "), st.just([])),
    "name": with_nul,
    "queue": st.one_of(with_nul, st.sampled_from(["", " ", "\t"])),
    "working_dir": with_nul,
    "timeout_s": st.one_of(nan_like, st.floats(max_value=0)),
    "max_retries": st.integers(max_value=-1),
    "idempotency_key": st.one_of(st.just(""), st.text(min_size=201, max_size=210), with_nul),
    "env": st.one_of(
        st.dictionaries(st.sampled_from(["", "A=B", "X\0"]), st.just("v"), min_size=1),
        st.dictionaries(st.just("OK"), with_nul, min_size=1),
    ),
    "config": st.dictionaries(st.just("k"), st.one_of(nan_like, st.just(object())), min_size=1),
    "resources": st.dictionaries(
        st.just("CPU"), st.one_of(nan_like, st.floats(max_value=-0.001)), min_size=1
    ),
}


@SETTINGS
@given(data=st.data(), field=st.sampled_from(sorted(BAD_SPEC_VALUES)))
def test_a_bad_job_spec_value_is_a_config_error_naming_its_field(
    data: st.DataObject, field: str
) -> None:
    value = data.draw(BAD_SPEC_VALUES[field])
    fields: dict[str, Any] = {"entrypoint": "echo hi", field: value}
    with pytest.raises(ConfigError) as info:
        JobSpec(**fields)
    assert info.value.field is not None
    assert info.value.field.split(".")[0] == field


# Specs that are valid JobSpecs but that one platform must refuse, with the field it names.
PLATFORM_REFUSALS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "ray": [
        ({"config": {"runtime_env": {"workdir": "."}}}, "runtime_env.workdir"),
        ({"config": {"runtime_env": {"env_vars": {"A": 1}}}}, "runtime_env.env_vars"),
        ({"config": {"runtime_env": "pip"}}, "runtime_env"),
        ({"config": {"runtime_env": {"excludes": "*.log"}}}, "runtime_env.excludes"),
        ({"working_dir": "/no/such/folder/for/ray"}, "working_dir"),
    ],
    "wandb": [
        ({"config": {"docker_image": 3}}, "config.docker_image"),
        ({"config": {"docker_image": "py", "resource": ["k8s"]}}, "config.resource"),
        ({"config": {"docker_image": "py", "resource_args": "x"}}, "config.resource_args"),
        ({"config": {"docker_image": "py", "run_config": [1]}}, "config.run_config"),
        ({"config": {"job": "../../x:latest"}}, "job"),
        ({"config": {"job": 5}}, "job"),
        ({"config": {"docker_image": "py", "priority": "urgent"}}, "config.priority"),
        ({"config": {"docker_image": "py"}, "inputs": {"data": "a/b/c/d"}}, "inputs.data"),
        ({"config": {"docker_image": "py"}, "queue": "has space"}, "queue"),
    ],
    "fused": [  # a shell command is not a UDF
        ({"config": {"code": "@fused.udf\ndef udf(): pass"}}, "entrypoint"),
    ],
}


@pytest.mark.parametrize(
    ("scheme", "fields", "field"),
    [(scheme, f, name) for scheme, cases in PLATFORM_REFUSALS.items() for f, name in cases],
)
async def test_what_only_one_platform_refuses_is_refused_before_any_request(
    scheme: str, fields: dict[str, Any], field: str
) -> None:
    counting = Counting()
    options: dict[str, Any] = {"transport": counting}
    if scheme in ("wandb", "fused"):
        options["credential"] = KEY
    async with AsyncClient(SCHEMES[scheme], **options) as client:
        with pytest.raises(ConfigError) as info:
            await client.submit(JobSpec(entrypoint="echo hi", idempotency_key="refused", **fields))
    assert info.value.field == field
    assert counting.requests == []


bad_urls = st.one_of(
    st.text(max_size=30).filter(lambda t: "://" not in t),
    st.builds(lambda t: f"ray://{t}", st.text(string.punctuation + " \0", min_size=1, max_size=8)),
    st.sampled_from(
        [
            "ray://127.0.0.1:99999",
            "ray://;:",  # found by hypothesis in CI: httpx.InvalidURL reached the caller
            "ray://h st:8265",
            "ray://127.0.0.1:-1",
            "ray://",
            "wandb://team/proj?host=http://h%00st",
            "wandb://team/proj?host=http://127.0.0.1:99999",
            "wandb://team/proj?host=ftp://x",
            "wandb://team/proj?queue=",
            "wandb://team",
            "wandb://te am/proj",
            "local://host-part",
            "nosuch://x",
            "Ray ://x",
        ]
    ),
)


@SETTINGS
@given(url=bad_urls)
async def test_a_bad_platform_url_is_a_config_error_and_sends_nothing(url: str) -> None:
    counting = Counting()
    refused: ConfigError | None = None
    try:
        platform = await open_platform(url, transport=counting, credential=KEY)
    except ConfigError as exc:
        refused = exc
    except JobRelayError as exc:  # a failure message for the reader
        raise AssertionError(f"{url!r}: {type(exc).__name__} instead of ConfigError") from exc
    else:  # accepted: then a usable platform URL
        assert platform.url
        await platform.aclose()
    assert refused is None or refused.field is not None
    assert counting.requests == []


@SETTINGS
@given(
    key=st.one_of(
        st.text(string.ascii_letters, min_size=4, max_size=10).map(lambda k: f" {k}"),
        st.text(string.ascii_letters, min_size=4, max_size=10).map(lambda k: f"{k}\n"),
        st.text(string.ascii_letters, min_size=4, max_size=10).map(lambda k: f"{k}\0{k}"),
        st.text(string.ascii_letters, min_size=4, max_size=10).map(lambda k: f"{k} {k}"),
    )
)
async def test_a_credential_with_whitespace_or_control_characters_is_refused_unquoted(
    key: str,
) -> None:
    with pytest.raises(ConfigError) as info:
        await open_platform(SCHEMES["wandb"], credential=key)
    assert info.value.field == "credential"
    assert key.strip() not in str(info.value)


# -- artifacts ----------------------------------------------------------------------------

bad_names = st.one_of(
    st.just(""),
    st.sampled_from([".", "..", "a/b", "a:b", "a#b", "-x", ".x", "a b", "x" * 129]),
    st.integers(),
    st.none(),
)
bad_aliases = st.one_of(
    st.text(string.ascii_lowercase, min_size=1, max_size=8),  # a lone string, not a list
    st.lists(st.sampled_from(["v1", "v0", "", "a/b", "a:b", " "]), min_size=1, max_size=3),
)
bad_types = st.one_of(st.sampled_from(["", "a/b", " ", "x" * 500, "a b"]), st.integers(), st.none())
bad_metadata = st.one_of(
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.just("k"), st.one_of(nan_like, st.just(object())), min_size=1),
    st.dictionaries(st.integers(), st.just(1), min_size=1),
)


def put_arguments(draw: st.DrawFn) -> dict[str, Any]:
    which = draw(st.sampled_from(["name", "aliases", "type", "metadata"]))
    args: dict[str, Any] = {"name": "model", "aliases": [], "type": "model", "metadata": {}}
    args[which] = draw(
        {"name": bad_names, "aliases": bad_aliases, "type": bad_types, "metadata": bad_metadata}[
            which
        ]
    )
    return args


@SETTINGS
@given(args=st.composite(put_arguments)())
async def test_bad_put_arguments_are_refused_by_every_store_before_anything_is_sent(
    args: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "f.bin").write_bytes(b"bytes")
    counting = Counting()
    local = LocalArtifactStore(tmp_path / "store")
    wandb = open_store(SCHEMES["wandb"], credential=KEY, transport=counting)
    try:
        for store in (local, wandb):
            with pytest.raises(ArtifactError):
                await store.put(
                    args["name"],
                    tmp_path / "f.bin",
                    type=args["type"],
                    metadata=args["metadata"],
                    aliases=args["aliases"],
                )
    finally:
        await wandb.aclose()
    assert counting.requests == []
    assert await local.list() == []


@pytest.mark.parametrize("reference", [1, None, 2.5, ["model"], b"model:latest"])
async def test_resolve_of_a_non_string_is_an_artifact_error(reference: Any, tmp_path: Path) -> None:
    counting = Counting()
    wandb = open_store(SCHEMES["wandb"], credential=KEY, transport=counting)
    try:
        for store in (LocalArtifactStore(tmp_path / "store"), wandb):
            with pytest.raises(ArtifactError, match="must be a string"):
                await store.resolve(reference)
    finally:
        await wandb.aclose()
    assert counting.requests == []


async def test_the_counting_transport_sees_a_request_that_is_sent() -> None:
    """The zero-request assertions above can fail: a request that is sent is counted."""
    counting = Counting()
    async with httpx.AsyncClient(transport=counting) as client:
        await client.get("http://127.0.0.1:9/x")
    assert counting.requests == ["GET http://127.0.0.1:9/x"]


# -- the CLI ------------------------------------------------------------------------------

CLI_CASES = [
    ("submit", "--platform", "ray://127.0.0.1:99999", "echo hi"),
    ("submit", "--platform", "wandb://team/proj?host=http://h%00st", "echo hi"),
    ("submit", "--platform", "ray://127.0.0.1:9?timeout=nan", "echo hi"),
    ("submit", "--platform", "ray://127.0.0.1:9", "--queue", "gpu", "echo hi"),
    ("submit", "--platform", "ray://127.0.0.1:9", "--attempt-timeout", "60", "echo hi"),
    ("submit", "--platform", "ray://127.0.0.1:9?colour=red", "echo hi"),
    ("submit", "--queue", "", "echo hi"),
    ("submit", "--run-timeout", "nan", "--wait", "echo hi"),
    ("artifacts", "put", "a/b", "README.md"),
    ("artifacts", "put", "model", "README.md", "--alias", "v1"),
    ("artifacts", "put", "model", "README.md", "--type", "a/b"),
    ("artifacts", "put", "model", "README.md", "--metadata", "[1, 2]"),
    ("artifacts", "put", "model", "README.md", "--metadata", '{"x": NaN}'),
]


@pytest.mark.parametrize("args", CLI_CASES, ids=[" ".join(a) for a in CLI_CASES])
def test_the_cli_refuses_each_in_one_line_with_exit_2(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "JOBRELAY_PLATFORM": f"local://{tmp_path}/home?autostart=0",
        "WANDB_API_KEY": KEY,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "jobrelay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "home" / "artifacts").exists() or not any(
        (tmp_path / "home" / "artifacts").rglob("*.json")
    )
