"""The connection form's Test button (``POST /api/v2/connections/test``, what the UI calls)
answers as a task run does, for every Address form the docs show, in a real deployment.

The api-server hands the form's fields to the hook through Airflow's URI form
(``AIRFLOW_CONN_<random id>=<conn.get_uri()>``), which cuts an Address at its first
``://``; the W&B, Anyscale and Fused emulators here need their URL in the connection, so
each form carries one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jobrelay_emulators.anyscale import AnyscaleEmulator
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator
from jobrelay_emulators.wandb import WandbEmulator

from .airflow_deployment import AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass
class Platforms:
    wandb: WandbEmulator
    anyscale: AnyscaleEmulator
    fused: FusedEmulator
    home: Path


@pytest.fixture(scope="module")
def platforms(tmp_path_factory: pytest.TempPathFactory, platform_home: Path) -> Iterator[Platforms]:
    wandb = WandbEmulator(agent_home=tmp_path_factory.mktemp("wandb-agent")).start()
    wandb.create_queue("default")
    anyscale = AnyscaleEmulator(workdir=tmp_path_factory.mktemp("anyscale")).start()
    fused = FusedEmulator(workdir=tmp_path_factory.mktemp("fused")).start()
    try:
        yield Platforms(wandb, anyscale, fused, platform_home)
    finally:
        for emulator in (wandb, anyscale, fused):
            emulator.stop()


@pytest.fixture(scope="module")
def airflow(platform_home: Path) -> Iterator[AirflowDeployment]:
    home = Path(tempfile.mkdtemp(prefix="jr-deploy-test-button-"))
    local = {"conn_type": "jobrelay", "host": f"local://{platform_home}"}
    deployment = AirflowDeployment(home, connections={"jobrelay_default": local})
    deployment.env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
        shutil.rmtree(home, ignore_errors=True)


def _forms(p: Platforms) -> list[tuple[str, dict[str, Any], str]]:
    """(name, the form's fields, the platform URL a task run opens) for each documented form."""
    w, a, f = p.wandb, p.anyscale, p.fused
    wandb_url = f"wandb://{w.entity}/proj?queue=default&host={w.url}"
    fused_extra = {"token_type": TOKEN_TYPE}
    return [
        (
            "wandb address",
            {"schema": "wandb", "host": wandb_url.removeprefix("wandb://")},
            wandb_url,
        ),
        (
            "wandb extra",
            {
                "schema": "wandb",
                "host": f"{w.entity}/proj",
                "extra": json.dumps({"queue": "default", "host": w.url}),
            },
            f"wandb://{w.entity}/proj",
        ),
        ("wandb url", {"host": wandb_url}, wandb_url),
        (
            "anyscale address",
            {"schema": "anyscale", "host": f"?host={a.url}"},
            f"anyscale://?host={a.url}",
        ),
        (
            "anyscale extra",
            {"schema": "anyscale", "extra": json.dumps({"host": a.url})},
            "anyscale://",
        ),
        ("anyscale url", {"host": f"anyscale://?host={a.url}"}, f"anyscale://?host={a.url}"),
        (
            "fused address",
            {
                "schema": "fused",
                "host": f"?base_url={f.base_url}",
                "extra": json.dumps(fused_extra),
            },
            f"fused://?base_url={f.base_url}",
        ),
        (
            "fused extra",
            {"schema": "fused", "extra": json.dumps({"base_url": f.base_url, **fused_extra})},
            "fused://",
        ),
        (
            "fused url",
            {"host": f"fused://?base_url={f.base_url}", "extra": json.dumps(fused_extra)},
            f"fused://?base_url={f.base_url}",
        ),
        ("local home", {"schema": "local", "host": str(p.home)}, f"local://{p.home}"),
        ("local url", {"host": f"local://{p.home}"}, f"local://{p.home}"),
    ]


def _secret(p: Platforms, url: str) -> str | None:
    for scheme, secret in (
        ("wandb", p.wandb.api_key),
        ("anyscale", p.anyscale.token),
        ("fused", p.fused.token),
    ):
        if url.startswith(scheme):
            return secret
    return None


def _test_button(airflow: AirflowDeployment, fields: dict[str, Any]) -> dict[str, Any]:
    body = {"connection_id": "jr_form_test", "conn_type": "jobrelay", **fields}
    response = airflow.http.post("/api/v2/connections/test", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_every_documented_address_form_passes_the_test_button(
    airflow: AirflowDeployment, platforms: Platforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_jobrelay.hooks import JobRelayHook

    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "ANYSCALE_CLI_TOKEN", "ANYSCALE_HOST"):
        monkeypatch.delenv(name, raising=False)
    answers = {}
    for name, fields, url in _forms(platforms):
        secret = _secret(platforms, url)
        form = {**fields, **({"password": secret} if secret else {})}
        # What a task run opens with the same fields (a JSON connection, as the DB keeps it).
        monkeypatch.setenv("AIRFLOW_CONN_JR_RUN", json.dumps({"conn_type": "jobrelay", **form}))
        run = JobRelayHook("jr_run").test_connection()

        answer = _test_button(airflow, form)

        answers[name] = (answer["status"], answer["message"])
        assert run == (True, f"Connected to {url}"), name
        if secret:
            assert secret not in answer["message"]
    assert answers == {name: (True, f"Connected to {url}") for name, _, url in _forms(platforms)}


def test_a_mistyped_platform_names_the_platform_field_in_the_test_button(
    airflow: AirflowDeployment,
) -> None:
    answer = _test_button(airflow, {"schema": "wandbb", "host": "team/project"})

    assert answer["status"] is False
    assert "field 'schema' (Platform) is 'wandbb', not a platform" in answer["message"]
    assert "use one of: anyscale, fused, local, ray, ray+https, wandb" in answer["message"]
