"""One real Airflow deployment for the module's tests (started once: it takes a minute)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobrelay_emulators.local_home import stop_local_home

from .airflow_deployment import AirflowDeployment, running_deployment


@pytest.fixture(scope="module")
def platform_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="jr-deploy-platform-"))
    try:
        yield home
    finally:
        stop_local_home(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def airflow(platform_home: Path) -> Iterator[AirflowDeployment]:
    home = Path(tempfile.mkdtemp(prefix="jr-deploy-airflow-"))
    connection = {"conn_type": "jobrelay", "host": f"local://{platform_home}"}
    try:
        with running_deployment(home, connections={"jobrelay_default": connection}) as airflow:
            yield airflow
    finally:
        shutil.rmtree(home, ignore_errors=True)
