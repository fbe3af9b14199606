"""Real Airflow for the provider's tests: a throwaway AIRFLOW_HOME with a SQLite metadata DB.

Airflow reads its configuration when it is first imported, so the environment is set
here, at import, before any test module imports Airflow. The DB is migrated once per
session; everything stays on this machine (no network, loopback only).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobrelay import ConfigError
from jobrelay.errors import AuthError
from jobrelay.platforms import local
from jobrelay.platforms.base import Platform
from jobrelay.platforms.registry import register_platform
from jobrelay.platforms.settings import HttpPlatformSettings
from jobrelay_emulators.local_home import stop_local_home
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "airflow"
TEST_DAGS = Path(__file__).parent / "dags"
PASSWORD = "jr-secret-7f3a9c1e"  # must never show up in kwargs, XCom or logs

# Worker subprocesses of a test inherit the environment and so the same homes.
_HOME = Path(os.environ.get("JOBRELAY_AIRFLOW_TEST_HOME") or tempfile.mkdtemp(prefix="jr-af-"))
PLATFORM_HOME = _HOME / "platform"

os.environ.update(
    {
        "JOBRELAY_AIRFLOW_TEST_HOME": str(_HOME),
        "AIRFLOW_HOME": str(_HOME / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [
                {
                    "name": "examples",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(EXAMPLES)},
                },
                {
                    "name": "tests",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(TEST_DAGS)},
                },
            ]
        ),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_HOME / "logs"),
        # The local platform in a home of its own, reached through two connections.
        "AIRFLOW_CONN_JOBRELAY_DEFAULT": json.dumps(
            {"conn_type": "jobrelay", "host": f"local://{PLATFORM_HOME}"}
        ),
        "AIRFLOW_CONN_JOBRELAY_AUTH": json.dumps(
            {
                "conn_type": "jobrelay",
                "schema": "authlocal",
                "host": str(PLATFORM_HOME),
                "password": PASSWORD,
            }
        ),
    }
)


class AuthLocalSettings(HttpPlatformSettings):
    platform_name = "authlocal"


async def open_authlocal(url: str, *, credential: SecretStr | str | None = None) -> Platform:
    """``authlocal:///home``: the local platform behind a required token (for the tests).

    Stands for any platform that needs a credential, without a network: a missing token
    is a ``ConfigError(field="credential")``, a wrong one an ``AuthError``.
    """
    if credential is None:
        raise ConfigError("missing; this platform needs a token", field="credential")
    secret = credential.get_secret_value() if isinstance(credential, SecretStr) else credential
    if secret != PASSWORD:
        raise AuthError("token rejected", status_code=401)
    return await local.open_platform("local://" + url.split("://", 1)[1])


register_platform("authlocal", open_authlocal, AuthLocalSettings)


def kill_platform_agents(home: Path = PLATFORM_HOME) -> None:
    """Stop the local platform's agents and job groups, so none outlives the tests."""
    stop_local_home(home)


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Iterator[Path]:
    """Migrate the metadata DB once; remove the whole temp home at the end."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    try:
        yield _HOME
    finally:
        kill_platform_agents()
        shutil.rmtree(_HOME, ignore_errors=True)


# Airflow and its web stack warn about their own deprecations while they run; those are
# not this provider's to fix. Everything else stays an error (the root config).
_THIRD_PARTY_WARNINGS = (
    "ignore::DeprecationWarning",
    "ignore::PendingDeprecationWarning",
    # Airflow's in-process execution API imports starlette's TestClient, which asks for httpx2.
    "ignore:Using `httpx` with `starlette.testclient` is deprecated",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            for spec in _THIRD_PARTY_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))
