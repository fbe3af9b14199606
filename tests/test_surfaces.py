"""The adapters' surfaces, declared and held to (issue 29).

- The Airflow provider, the Prefect integration and the Dagster integration import the core
  only from ``jobrelay`` (the user surface) and ``jobrelay.integration`` (the
  integration-author surface), and only names those declare in ``__all__``. Every import in
  every adapter module counts: at the top, inside a function (the lazy ones that keep a DAG
  parse cheap) and under ``if TYPE_CHECKING:``. pyproject.toml's import-linter contract
  checks the module half of the same rule; this test also checks the names.
- Inside the adapter packages a module is either public (listed here) or named with a
  leading underscore. The Airflow modules that Airflow stores by path (a trigger's classpath
  in its database, the hook and the extra link in provider info) or that DAG files import
  by path stay public.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

# The surfaces an adapter may import from. jobrelay.runtime is not among them: no adapter
# module runs inside a job.
SURFACES = ("jobrelay", "jobrelay.integration")

ADAPTERS = ("airflow_jobrelay", "prefect_jobrelay", "dagster_jobrelay")

# Each adapter's public modules (the package itself is "__init__"); every other module's
# name starts with "_".
PUBLIC_MODULES: dict[str, set[str]] = {
    # Airflow imports these by path: provider info names hooks, links and the operator,
    # sensor and trigger modules; a deferred task's trigger is stored as
    # "airflow_jobrelay.triggers.JobTrigger"; DAG files import operators, sensors, reaper;
    # tasks catch the exceptions.
    "airflow_jobrelay": {
        "__init__",
        "exceptions",
        "hooks",
        "links",
        "operators",
        "reaper",
        "sensors",
        "triggers",
    },
    # Everything a user needs is read from the package itself.
    "prefect_jobrelay": {"__init__"},
    "dagster_jobrelay": {"__init__"},
}


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None, package
    assert spec.submodule_search_locations, package
    return Path(next(iter(spec.submodule_search_locations)))


def adapter_modules(package: str) -> Iterator[tuple[str, Path]]:
    """Each module of an adapter package: its dotted name and its file."""
    root = package_dir(package)
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        dotted = ".".join((package, *parts))
        yield dotted.removesuffix(".__init__"), path


def declared(surface: str) -> set[str]:
    return set(importlib.import_module(surface).__all__)


def surface_violations(module: str, source: str) -> list[str]:
    """Each import of the core in ``source`` that reaches past the declared surfaces, as
    "<module> line <n>: <the import>"; relative imports stay in the adapter and pass."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jobrelay."):
                    found.append(f"{module} line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            target = node.module
            if target != "jobrelay" and not target.startswith("jobrelay."):
                continue
            names = ", ".join(alias.name for alias in node.names)
            where = f"{module} line {node.lineno}: from {target} import {names}"
            if target not in SURFACES:
                found.append(where)
                continue
            undeclared = [a.name for a in node.names if a.name not in declared(target)]
            if undeclared:
                found.append(f"{where} ({', '.join(undeclared)} not in {target}.__all__)")
    return found


@pytest.mark.parametrize("package", ADAPTERS)
def test_the_adapter_imports_only_declared_names_of_the_surfaces(package: str) -> None:
    modules = list(adapter_modules(package))
    assert len(modules) > 3, package
    found = [
        violation
        for module, path in modules
        for violation in surface_violations(module, path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_check_names_the_module_and_each_import_that_reaches_elsewhere(
    tmp_path: Path,
) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from jobrelay import JobRef, JobSpec\n"  # declared: passes
        "from jobrelay.integration import KillSwitch\n"  # declared: passes
        "from jobrelay._checks import check_flag\n"  # line 5: a submodule
        "import jobrelay.models\n"  # line 6: a submodule, imported whole
        "if TYPE_CHECKING:\n"
        "    from jobrelay.waiting import JobUpdate\n"  # line 8: type-only still counts
        "def later() -> None:\n"
        "    from jobrelay.integration import bridge\n"  # line 10: not declared
        "    from jobrelay import runtime\n"  # line 11: the job side is not a surface
        "from . import sibling\n",  # relative: inside the adapter
        encoding="utf-8",
    )

    found = surface_violations("airflow_jobrelay.probe", probe.read_text(encoding="utf-8"))

    assert sorted(found) == [
        "airflow_jobrelay.probe line 10: from jobrelay.integration import bridge"
        " (bridge not in jobrelay.integration.__all__)",
        "airflow_jobrelay.probe line 11: from jobrelay import runtime"
        " (runtime not in jobrelay.__all__)",
        "airflow_jobrelay.probe line 5: from jobrelay._checks import check_flag",
        "airflow_jobrelay.probe line 6: import jobrelay.models",
        "airflow_jobrelay.probe line 8: from jobrelay.waiting import JobUpdate",
    ]


def test_each_name_the_surfaces_declare_resolves() -> None:
    # A declared name that does not load would pass the parse above and fail in a task.
    for surface in SURFACES:
        module = importlib.import_module(surface)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{surface}.{name}"


@pytest.mark.parametrize("package", ADAPTERS)
def test_each_adapter_module_is_public_by_list_or_private_by_name(package: str) -> None:
    names = {
        module.removeprefix(package).lstrip(".") or "__init__"
        for module, _ in adapter_modules(package)
    }
    leaves = {name.rsplit(".", 1)[-1] for name in names}
    unlisted = sorted(
        name
        for name in names
        if not name.rsplit(".", 1)[-1].startswith("_") and name not in PUBLIC_MODULES[package]
    )
    assert unlisted == [], f"{package}: public by name but not listed: {unlisted}"
    assert PUBLIC_MODULES[package] <= leaves, "a listed public module is gone"


def test_the_paths_airflow_stores_name_public_modules() -> None:
    import airflow_jobrelay
    from airflow_jobrelay.triggers import JobTrigger

    info = airflow_jobrelay.get_provider_info()
    dotted = [
        info["connection-types"][0]["hook-class-name"].rsplit(".", 1)[0],
        *(link.rsplit(".", 1)[0] for link in info["extra-links"]),
        *(
            module
            for kind in ("operators", "sensors", "triggers", "hooks")
            for entry in info[kind]
            for module in entry["python-modules"]
        ),
        # what a deferred task's row in Airflow's database holds
        JobTrigger(job={"platform": "local", "id": "j-1"}).serialize()[0].rsplit(".", 1)[0],
    ]
    for module in dotted:
        assert module.startswith("airflow_jobrelay.")
        assert module.removeprefix("airflow_jobrelay.") in PUBLIC_MODULES["airflow_jobrelay"]
        importlib.import_module(module)
    assert importlib.import_module("airflow_jobrelay.hooks").JobRelayHook
