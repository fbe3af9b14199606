"""The Dagster integration's public surface is pinned, as the core's is
(tests/core/test_surface.py): its names, the resources' fields and the parameter names of
every public callable and method, so a rename (CHANGELOG.md, "one vocabulary") shows here
as a failing test."""

from __future__ import annotations

import inspect
from typing import Any

import dagster_jobrelay

EXPECTED_NAMES = {
    "DagsterOwnerLookup",
    "JobLogMessageReader",
    "JobRelayIOManager",
    "JobRelayPipesClient",
    "JobRelayResource",
    "artifact_metadata",
    "cancel_orphaned_jobs_sensor",
    "installation_of",
    "job_key",
    "owner_of",
    "partition_alias",
    "run_metadata",
    "run_prefix",
}

CALLABLES: dict[str, list[str]] = {
    "artifact_metadata": ["ref"],
    "cancel_orphaned_jobs_sensor": [
        "jobrelay",
        "resource_key",
        "platform",
        "grace_period",
        "minimum_interval_seconds",
        "dry_run",
        "name",
        "default_status",
    ],
    "installation_of": ["instance", "explicit"],
    "job_key": ["context"],
    "owner_of": ["context", "installation"],
    "partition_alias": ["partition_key"],
    "run_metadata": ["result"],
    "run_prefix": ["run_id"],
}

RESOURCE_FIELDS: dict[str, set[str]] = {
    "JobRelayResource": {
        "platform",
        "credential",
        "options",
        "artifacts",
        "forward_termination",
        "installation",
    },
    "JobRelayIOManager": {"store", "store_options"},
    "JobRelayPipesClient": {"jobrelay"},
}

METHODS: dict[str, dict[str, list[str]]] = {
    "JobRelayResource": {
        "run": ["context", "spec", "inputs", "output", "wait", "follow_logs", "idempotency_key"],
        "submit_and_wait": [
            "context",
            "spec",
            "inputs",
            "wait",
            "follow_logs",
            "idempotency_key",
            "take_line",
        ],
        "get_client": [],
        "get_async_client": ["poll"],
    },
    "JobRelayPipesClient": {"run": ["context", "spec", "extras", "inputs", "wait"]},
}


def parameters(obj: Any) -> list[str]:
    return [name for name in inspect.signature(obj).parameters if name != "self"]


def test_public_names_are_exactly_the_pinned_set() -> None:
    assert set(dagster_jobrelay.__all__) == EXPECTED_NAMES
    for name in dagster_jobrelay.__all__:
        assert getattr(dagster_jobrelay, name) is not None


def test_every_public_callable_takes_the_pinned_parameters() -> None:
    for name, expected in CALLABLES.items():
        assert parameters(getattr(dagster_jobrelay, name)) == expected, name


def test_the_resources_have_the_pinned_fields_and_methods() -> None:
    for name, fields in RESOURCE_FIELDS.items():
        assert set(getattr(dagster_jobrelay, name).model_fields) == fields, name
    for name, methods in METHODS.items():
        cls = getattr(dagster_jobrelay, name)
        for method, expected in methods.items():
            assert parameters(getattr(cls, method)) == expected, f"{name}.{method}"
