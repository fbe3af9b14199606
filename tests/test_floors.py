"""The declared floors work: the core installed with every direct dependency at the lowest
version its pyproject admits (``uv pip install --resolution lowest-direct``, in a throwaway
virtualenv) shows ``jobrelay --help`` for every command and runs a local job end to end.

Skipped only when the package registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.test_surfaces import PUBLIC_MODULES
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


# the provider's public modules, as tests/test_surfaces.py declares them (its private ones,
# e.g. _owners, load through these)
PROVIDER_MODULES = tuple(sorted(PUBLIC_MODULES["airflow_jobrelay"] - {"__init__"}))


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


# -- the integrations at their floors: import, and one job end to end ---------------------

SMOKE_SCRIPTS = ROOT / "tests" / "floors"

# A floor release with everything else at today's newest can break on a dependency released
# after it, with no jobrelay code involved: such a dependency is held at the version the
# project's uv.lock has (what the rest of the suite runs with), as Airflow's constraints
# files hold an Airflow install. Found by running these tests:
# - Airflow 3.2.x: its execution API's routes fail to build on FastAPI 0.163 ("Model
#   'TITerminalStatePayload' needs a discriminator field"), so every task fails.
# - Prefect 3.4.x-3.6.0: its server passes Body(min_items=...), which FastAPI refuses from a
#   release between 0.150.0 and 0.155.0; with 0.150.0 the server starts, then fails
#   ("'PrefectRouter' object has no attribute 'routes'").
HELD_AT_THE_LOCK = ("fastapi",)


def locked_versions(*names: str) -> list[str]:
    """``name==version`` as uv.lock has each of ``names``."""
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    locked = {package["name"]: package["version"] for package in packages}
    return [f"{name}=={locked[name]}" for name in names]


def floor_command(pins: list[str], packages: list[str]) -> list[str]:
    """``uv run`` in a throwaway environment with ``pins`` and the workspace ``packages``
    (editable, so the tested code is the working tree's, never a stale cached build)."""
    major, minor = sys.version_info[:2]
    command = [*uv_command(), "run", "--isolated", "--no-project", "--python", f"{major}.{minor}"]
    for pin in pins:
        command += ["--with", pin]
    for package in ("core", *packages):
        command += ["--with-editable", str(ROOT / package)]
    return command


def floor_pins(package: str, *names: str) -> list[str]:
    floors = declared_floors(ROOT / package / "pyproject.toml")
    return [f"{name}=={floors[name]}" for name in names]


def smoke_at_floor(
    pins: list[str], package: str, module: str, tmp_path: Path, env: dict[str, str]
) -> str:
    """Import ``module`` and run ``tests/floors/<script>`` at ``pins``; return its output.

    The import runs first, on its own: a failure to build the environment is then told
    apart from a failure of the smoke job (only the former may be the registry's fault).
    """
    command = floor_command(pins, [package])
    probe = subprocess.run(
        [*command, "python", "-c", f"import {module}; print('imported')"],
        capture_output=True,
        text=True,
        timeout=850,
        cwd=tmp_path,
    )
    if probe.returncode != 0 and "Traceback" not in probe.stderr:
        skip_if_unreachable(" ".join(pins), probe.stderr)
    assert probe.returncode == 0, f"import {module} at {pins}: {probe.stderr[-3000:]}"
    home = tmp_path / "home"
    # Only the smoke's own Airflow settings: tests/airflow/conftest.py puts its homes and DAG
    # bundles in os.environ, and a run of the whole suite would hand them to the floor env.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    full_env = {**inherited, "JOBRELAY_HOME": str(home), **env}
    for variable in ("JOBRELAY_PLATFORM", "JOBRELAY_ARTIFACTS", "DAGSTER_HOME", "PREFECT_API_URL"):
        full_env.pop(variable, None)
    from tests.platforms.conftest import kill_local_agents

    script = SMOKE_SCRIPTS / f"{module.split('_')[0]}_smoke.py"
    try:
        done = subprocess.run(
            [*command, "python", str(script)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=full_env,
        )
    finally:
        kill_local_agents(home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "ran at the floor" in done.stdout
    assert "state SUCCEEDED" in done.stdout
    return done.stdout


@pytest.mark.timeout(1200)
def test_prefect_integration_runs_a_job_at_its_prefect_floor(tmp_path: Path) -> None:
    """A flow calling ``run_job`` at the lowest Prefect that prefect-jobrelay declares."""
    pins = floor_pins("prefect_integration", "prefect") + locked_versions(*HELD_AT_THE_LOCK)
    env = {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        # The flow runs against Prefect's ephemeral server; a busy machine starts it slowly.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    smoke_at_floor(pins, "prefect_integration", "prefect_jobrelay", tmp_path, env)


@pytest.mark.timeout(1200)
def test_dagster_integration_runs_a_job_at_its_dagster_floor(tmp_path: Path) -> None:
    """An asset materialized with ``JobRelayResource`` at the lowest Dagster (and Dagster
    Pipes) that dagster-jobrelay declares."""
    pins = floor_pins("dagster_integration", "dagster", "dagster-pipes")
    smoke_at_floor(pins, "dagster_integration", "dagster_jobrelay", tmp_path, {})


@pytest.mark.timeout(1200)
def test_airflow_provider_runs_a_job_at_its_airflow_floor(tmp_path: Path) -> None:
    """``dag.test()`` of a DAG with ``SubmitJobOperator`` at the lowest Airflow the provider
    declares, on a fresh SQLite metadata DB."""
    pins = floor_pins("airflow_provider", "apache-airflow") + locked_versions(*HELD_AT_THE_LOCK)
    home = tmp_path / "home"
    env = {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(SMOKE_SCRIPTS / "airflow_dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW_CONN_JOBRELAY_DEFAULT": json.dumps(
            {"conn_type": "jobrelay", "host": f"local://{home}"}
        ),
    }
    smoke_at_floor(pins, "airflow_provider", "airflow_jobrelay", tmp_path, env)
