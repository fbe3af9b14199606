"""The declared floors work: the core installed with every direct dependency at the lowest
version its pyproject admits (``uv pip install --resolution lowest-direct``, in a throwaway
virtualenv) shows ``jobrelay --help`` for every command and runs a local job end to end.

Skipped only when the package registry cannot be reached.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.vendor_sdks import skip_if_unreachable, uv_command

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("submit", "status", "logs", "wait", "cancel", "ls", "queue", "demo", "agent")


def declared_floors(pyproject: Path) -> dict[str, str]:
    """``name -> lowest version`` of each ``name>=X`` dependency of a pyproject."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    floors = {}
    for requirement in dependencies:
        found = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement)
        if found:
            floors[found.group(1).lower()] = found.group(2)
    return floors


def installed(python: Path) -> dict[str, str]:
    uv = uv_command()
    done = subprocess.run(
        [*uv, "pip", "freeze", "--python", str(python)], capture_output=True, text=True, check=True
    )
    pins = (line.split("==", 1) for line in done.stdout.splitlines() if "==" in line)
    return {name.lower().replace("_", "-"): version for name, version in pins}


@pytest.fixture(scope="module")
def floor_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the core and its direct dependencies at their declared floors."""
    venv = tmp_path_factory.mktemp("floors") / "venv"
    uv = uv_command()
    major, minor = sys.version_info[:2]
    subprocess.run(
        [*uv, "venv", "--quiet", "--python", f"{major}.{minor}", str(venv)],
        check=True,
        capture_output=True,
    )
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--python",
            str(python),
            "--resolution",
            "lowest-direct",
            str(ROOT / "core"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        skip_if_unreachable("the core at its declared floors", done.stderr)
    return venv


def test_the_environment_is_at_the_floors(floor_env: Path) -> None:
    """Guards the test itself: each direct dependency is at the version the core declares."""
    floors = declared_floors(ROOT / "core" / "pyproject.toml")
    versions = installed(floor_env / "bin" / "python")
    assert "typer" in floors
    for name, floor in floors.items():
        got = versions[name.replace("_", "-")]
        # A floor "0.16" installs as 0.16.0: compare the release numbers.
        as_numbers = [int(part) for part in re.findall(r"\d+", got)][: floor.count(".") + 1]
        assert as_numbers == [int(part) for part in floor.split(".")], (name, floor, got)


def test_help_works_at_the_floors(floor_env: Path) -> None:
    jobrelay = floor_env / "bin" / "jobrelay"
    done = subprocess.run([jobrelay, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "submit" in done.stdout
    for command in COMMANDS:
        done = subprocess.run(
            [jobrelay, command, "--help"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr[-3000:])
        assert "Usage" in done.stdout, command


def test_a_local_job_runs_at_the_floors(floor_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JOBRELAY_HOME": str(tmp_path / "home")}
    env.pop("JOBRELAY_PLATFORM", None)
    from tests.platforms.conftest import kill_local_agents

    job = [str(floor_env / "bin" / "python"), "-c", "print('ran at the floors')"]
    try:
        done = subprocess.run(
            [floor_env / "bin" / "jobrelay", "submit", "--wait", "--", *job],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        # The local agent that the submit started goes with this test's home.
        kill_local_agents(tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ran at the floors" in done.stdout
    assert "SUCCEEDED" in done.stdout + done.stderr


PROVIDER_MODULES = ("operators", "triggers", "sensors", "hooks", "links", "owners", "reaper")


@pytest.mark.timeout(900)  # a cold cache downloads all of Airflow
def test_the_airflow_provider_imports_at_its_airflow_floor(tmp_path: Path) -> None:
    """Every module a DAG imports loads at the lowest Airflow the provider declares (on 3.1,
    ``from airflow.sdk import conf`` failed: the floor is 3.2)."""
    floor = declared_floors(ROOT / "airflow_provider" / "pyproject.toml")["apache-airflow"]
    venv = tmp_path / "venv"
    uv = uv_command()
    major, minor = sys.version_info[:2]
    subprocess.run(
        [*uv, "venv", "--quiet", "--python", f"{major}.{minor}", str(venv)],
        check=True,
        capture_output=True,
    )
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--python",
            str(python),
            "--resolution",
            "lowest-direct",
            str(ROOT / "core"),
            str(ROOT / "airflow_provider"),
        ],
        capture_output=True,
        text=True,
        timeout=850,
    )
    if done.returncode != 0:
        skip_if_unreachable(f"apache-airflow=={floor}", done.stderr)
    assert installed(python)["apache-airflow"].startswith(floor + ".")
    imports = "; ".join(f"import airflow_jobrelay.{module}" for module in PROVIDER_MODULES)
    script = (
        f"{imports}; import airflow_jobrelay as p; print(p.get_provider_info()['package-name'])"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow")}
    done = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("airflow-provider-jobrelay")
