"""``JobRelayHook``: Connection fields -> platform URL and options; provider metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from airflow.sdk import Connection
from airflow_jobrelay import get_provider_info
from airflow_jobrelay.exceptions import JobRelayConnectionError
from airflow_jobrelay.hooks import JobRelayHook, platform_url

from .conftest import PASSWORD, PLATFORM_HOME


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({}, "local://"),
        ({"host": "/srv/jobs"}, "local:///srv/jobs"),
        ({"schema": "ray", "host": "127.0.0.1", "port": 8265}, "ray://127.0.0.1:8265"),
        ({"schema": "ray+https", "host": "ray.example"}, "ray+https://ray.example"),
        ({"schema": "wandb", "host": "team/vision?queue=gpu"}, "wandb://team/vision?queue=gpu"),
        ({"schema": "ray", "host": "ray://10.0.0.1:9000"}, "ray://10.0.0.1:9000"),
        (
            {"schema": "wandb", "host": "emulator/acc?queue=q&host=http://127.0.0.1:8"},
            "wandb://emulator/acc?queue=q&host=http://127.0.0.1:8",
        ),
    ],
)
def test_connection_fields_name_the_platform_url(fields: dict[str, object], url: str) -> None:
    conn = Connection(conn_id="c", conn_type="jobrelay", **fields)  # type: ignore[arg-type]
    assert platform_url(conn) == url


async def test_the_token_reaches_the_platform_as_its_credential() -> None:
    hook = JobRelayHook("jobrelay_auth")
    client = await hook.open_client(hook.get_async_client())
    try:
        assert (await client.platform()).url == f"local://{PLATFORM_HOME}"
        assert PASSWORD not in repr(client)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("conn", "field"),
    [
        ({"schema": "nosuch", "host": "h"}, "schema"),
        ({"host": "local://host-part"}, "host"),
        ({"schema": "authlocal", "host": "/tmp/x"}, "password"),
        ({"schema": "wandb", "host": "team/project"}, "password"),
        ({"host": "/tmp/x", "extra": '{"bogus_option": 1}'}, "extra.bogus_option"),
        ({"host": "/tmp/x", "extra": "[1, 2]"}, "extra"),
    ],
)
async def test_a_broken_connection_names_itself_and_the_field(
    conn: dict[str, str], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_JR_BROKEN", json.dumps({"conn_type": "jobrelay", **conn}))
    hook = JobRelayHook("jr_broken")

    with pytest.raises(JobRelayConnectionError) as raised:
        await hook.open_client(hook.get_async_client())

    assert raised.value.field == field
    assert str(raised.value).startswith(f"connection 'jr_broken' (type jobrelay): field '{field}'")


async def test_a_wandb_connection_takes_verify_and_timeout_in_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobrelay_emulators.wandb import WandbEmulator

    emulator = WandbEmulator(agent_home=tmp_path / "agent")
    emulator.start()
    emulator.create_queue("default")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    conn = {
        "conn_type": "jobrelay",
        "schema": "wandb",
        "host": f"{emulator.entity}/proj?queue=default&host={emulator.url}",
        "password": emulator.api_key,
        "extra": json.dumps({"verify": False, "timeout": 30}),
    }
    monkeypatch.setenv("AIRFLOW_CONN_JR_WANDB", json.dumps(conn))
    try:
        hook = JobRelayHook("jr_wandb")
        client = await hook.open_client(hook.get_async_client())
        try:
            assert await client.list_jobs(limit=5) == []
            assert emulator.api_key not in repr(client)
        finally:
            await client.aclose()
        ok, message = hook.test_connection()
        assert ok, message
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"verify": "maybe"}, "extra.verify"), ({"timeout": -1}, "extra.timeout")],
)
async def test_a_mistyped_extra_names_its_key(
    extra: dict[str, object], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {
        "conn_type": "jobrelay",
        "schema": "ray",
        "host": "127.0.0.1",
        "extra": json.dumps(extra),
    }
    monkeypatch.setenv("AIRFLOW_CONN_JR_EXTRA", json.dumps(conn))
    hook = JobRelayHook("jr_extra")
    with pytest.raises(JobRelayConnectionError) as raised:
        await hook.open_client(hook.get_async_client())
    assert raised.value.field == field


def test_a_connection_test_to_an_unreachable_ray_names_the_connection_host_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = {
        "conn_type": "jobrelay",
        "schema": "ray",
        "host": "127.0.0.1",
        "extra": '{"retries": 1}',
    }
    monkeypatch.setenv("AIRFLOW_CONN_JR_NORAY", json.dumps(conn))
    ok, why = JobRelayHook("jr_noray").test_connection()
    assert ok is False
    assert "'jr_noray'" in why
    assert "127.0.0.1:8265" in why  # the port Ray's dashboard was assumed to be on


def test_test_connection_reports_success_and_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_JR_BAD", '{"conn_type": "jobrelay", "schema": "nosuch"}')

    ok, message = JobRelayHook("jobrelay_default").test_connection()
    bad, why = JobRelayHook("jr_bad").test_connection()

    assert (ok, message) == (True, f"Connected to local://{PLATFORM_HOME}")
    assert bad is False
    # The field the user typed the platform in (Platform), and what it could be.
    assert "field 'schema' (Platform) is 'nosuch', not a platform" in why
    # Every registered platform is offered (tests register more, so only the built-ins
    # are named here).
    offered = why.split("use one of: ", 1)[1].split(", ")
    assert {"anyscale", "fused", "local", "ray", "ray+https", "wandb"} <= set(offered)


FORM_PROBE = """
import json, sys
sys.modules["wtforms"] = None  # as on Airflow 3.3 without the FAB provider: no wtforms
from airflow.providers_manager import ProvidersManager
from airflow.api_fastapi.app import create_app
from fastapi.testclient import TestClient

manager = ProvidersManager()
behaviour = manager.field_behaviours.get("jobrelay")
widgets = sorted(k for k in manager.connection_form_widgets if "jobrelay" in k)
with TestClient(create_app()) as client:
    answer = client.get("/ui/connections/hook_meta")
meta = [m for m in answer.json() if m.get("connection_type") == "jobrelay"]
print("RESULT " + json.dumps(
    {"behaviour": behaviour, "widgets": widgets, "status": answer.status_code, "meta": meta}
))
"""


def test_the_connection_form_reaches_airflow_33_without_wtforms() -> None:
    """Airflow 3.3 reads the form from provider info; the hook's get_ui_field_behaviour was
    only read with wtforms installed, so the UI showed the generic form."""
    import subprocess
    import sys

    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    done = subprocess.run(
        [sys.executable, "-c", FORM_PROBE], capture_output=True, text=True, timeout=180, env=env
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    behaviour = result["behaviour"]
    assert behaviour["hidden_fields"] == ["login"]
    assert behaviour["relabeling"] == {"schema": "Platform", "host": "Address", "password": "Token"}
    assert "extra__jobrelay__verify" in result["widgets"]
    assert result["status"] == 200
    assert len(result["meta"]) == 1
    meta = result["meta"][0]
    assert meta["standard_fields"]["login"]["hidden"] is True
    assert meta["standard_fields"]["host"]["title"] == "Address"
    assert meta["standard_fields"]["url_schema"]["title"] == "Platform"
    assert {"verify", "timeout"} <= {name.rsplit("__", 1)[-1] for name in meta["extra_fields"]}


async def test_the_forms_own_fields_reach_the_platform_and_blank_ones_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = {"extra__jobrelay__idle_timeout": 12, "extra__jobrelay__verify": None, "x": ""}
    conn = {"conn_type": "jobrelay", "host": str(PLATFORM_HOME), "extra": json.dumps(extra)}
    monkeypatch.setenv("AIRFLOW_CONN_JR_FORM", json.dumps(conn))
    hook = JobRelayHook("jr_form")
    client = await hook.open_client(hook.get_async_client())
    await client.aclose()


def test_airflow_discovers_the_provider_through_its_entry_point() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()

    assert "airflow-provider-jobrelay" in manager.providers
    hook = manager.hooks["jobrelay"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_jobrelay.hooks.JobRelayHook"
    assert hook.connection_type == "jobrelay"
    assert get_provider_info()["extra-links"] == ["airflow_jobrelay.links.JobRelayJobLink"]
