"""The Airflow provider's public surface is pinned, as the core's is
(tests/core/test_surface.py): each public module's names and the parameter names of its
operators, sensor, trigger, hook, link, exceptions and functions, so a rename (CHANGELOG.md,
"one vocabulary") shows here as a failing test. Which modules are public:
tests/test_surfaces.py."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import airflow_jobrelay

PACKAGE_NAMES = {
    "CONNECTION_FIELDS",
    "CONNECTION_FORM",
    "CancelOrphanedJobsOperator",
    "__version__",
    "get_provider_info",
    "orphan_sweep_dag",
}

# module -> public name -> its parameters (a class: its __init__'s).
MODULES: dict[str, dict[str, list[str]]] = {
    "airflow_jobrelay.operators": {
        "SubmitJobOperator": [
            "entrypoint",
            "jobrelay_conn_id",
            "job_name",
            "job_queue",
            "priority",
            "env",
            "working_dir",
            "config",
            "job_resources",
            "tags",
            "inputs",
            "max_retries",
            "job_timeout",
            "wait_for",
            "queue_timeout",
            "run_timeout",
            "cancel_on_timeout",
            "cancel_on_kill",
            "deferrable",
            "poll_interval",
            "max_poll_interval",
            "kwargs",
        ],
    },
    "airflow_jobrelay.sensors": {
        "JobSensor": ["job", "jobrelay_conn_id", "deferrable", "cancel_on_kill", "kwargs"],
    },
    "airflow_jobrelay.triggers": {
        "JobTrigger": [
            "job",
            "jobrelay_conn_id",
            "wait_for",
            "queue_timeout",
            "run_timeout",
            "timeout",
            "cancel_on_timeout",
            "cancel_on_kill",
            "log_cursor",
            "follow_logs",
            "waiting_since",
            "poll_interval",
            "max_poll_interval",
        ],
        "shared_client": ["conn_id", "poll_interval", "max_poll_interval"],
    },
    "airflow_jobrelay.reaper": {
        "CancelOrphanedJobsOperator": ["jobrelay_conn_id", "grace_period", "dry_run", "kwargs"],
        "memory_variable": ["jobrelay_conn_id"],
        "orphan_sweep_dag": [
            "dag_id",
            "jobrelay_conn_id",
            "schedule",
            "grace_period",
            "dry_run",
            "dag_kwargs",
        ],
    },
    "airflow_jobrelay.hooks": {"JobRelayHook": ["jobrelay_conn_id", "kwargs"]},
    "airflow_jobrelay.links": {"JobRelayJobLink": []},
    "airflow_jobrelay.exceptions": {
        "JobRelayConfigError": ["message", "field"],
        "JobRelayConnectionError": ["message", "conn_id", "field"],
        "JobRelayJobFailed": ["message", "status"],
        "JobRelayJobTimeout": ["message", "status", "phase"],
        "refused_as_airflow_error": [],
    },
}


def parameters(obj: Any) -> list[str]:
    fn = obj.__init__ if inspect.isclass(obj) else obj
    return [name for name in inspect.signature(fn).parameters if name != "self"]


def test_the_package_names_are_exactly_the_pinned_set() -> None:
    assert set(airflow_jobrelay.__all__) == PACKAGE_NAMES
    for name in airflow_jobrelay.__all__:
        assert getattr(airflow_jobrelay, name) is not None


def test_each_module_exports_the_pinned_names_with_the_pinned_parameters() -> None:
    for module_name, names in MODULES.items():
        module = importlib.import_module(module_name)
        assert set(module.__all__) == set(names), module_name
        for name, expected in names.items():
            assert parameters(getattr(module, name)) == expected, f"{module_name}.{name}"
