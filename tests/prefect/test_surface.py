"""The Prefect integration's public surface is pinned, as the core's is
(tests/core/test_surface.py): its names, and the parameter names of every public callable
and block, so a rename (CHANGELOG.md, "one vocabulary") shows here as a failing test."""

from __future__ import annotations

import inspect
from typing import Any

import prefect_jobrelay

EXPECTED_NAMES = {
    "JobRelayCredentials",
    "JobRelayJob",
    "JobRelayJobRun",
    "PrefectOwnerLookup",
    "arun_job",
    "cancel_flow_run_jobs",
    "cancel_job",
    "cancel_orphaned_jobs",
    "current_owner",
    "flow_run_prefix",
    "get_job_logs",
    "installation_id",
    "job_key",
    "run_job",
    "run_job_flow",
    "submit_job",
    "wait_for_job",
}

RUN = [
    "credentials",
    "spec",
    "inputs",
    "idempotency_key",
    "queue_timeout",
    "run_timeout",
    "timeout",
    "poll_frequency_seconds",
    "follow_logs",
    "artifact_key",
    "cancel_on_kill",
]

CALLABLES: dict[str, list[str]] = {
    "arun_job": RUN,
    "run_job": RUN,
    "submit_job": ["credentials", "spec", "inputs", "idempotency_key"],
    "wait_for_job": [
        "credentials",
        "job",
        "queue_timeout",
        "run_timeout",
        "timeout",
        "poll_frequency_seconds",
        "follow_logs",
        "artifact_key",
        "cancel_on_kill",
    ],
    "cancel_job": ["credentials", "job"],
    "get_job_logs": ["credentials", "job", "cursor"],
    "run_job_flow": [
        "credentials",
        "spec",
        "inputs",
        "queue_timeout",
        "run_timeout",
        "timeout",
        "poll_frequency_seconds",
        "artifact_key",
    ],
    "cancel_flow_run_jobs": ["credentials", "parameter"],
    "cancel_orphaned_jobs": ["credentials", "grace_period", "dry_run", "installation"],
    "current_owner": [],
    "flow_run_prefix": ["flow_run_id"],
    "installation_id": ["api_url"],
    "job_key": ["given", "work"],
}

BLOCK_FIELDS: dict[str, set[str]] = {
    "JobRelayCredentials": {"platform", "credential", "options"},
    "JobRelayJob": {
        "credentials",
        "entrypoint",
        "job_name",
        "queue",
        "priority",
        "env",
        "working_dir",
        "job_timeout",
        "max_retries",
        "config",
        "resources",
        "tags",
        "inputs",
        "idempotency_key",
        "timeout",
        "queue_timeout",
        "run_timeout",
        "poll_frequency_seconds",
        "follow_logs",
        "cancel_on_kill",
    },
}

METHODS: dict[str, dict[str, list[str]]] = {
    "JobRelayCredentials": {"get_client": ["poll"]},
    "JobRelayJob": {"trigger": [], "spec": [], "check": []},
    "JobRelayJobRun": {
        "wait_for_completion": [],
        "fetch_result": [],
        "status": [],
        "logs": ["cursor"],
        "cancel": [],
    },
}


def parameters(obj: Any) -> list[str]:
    """The parameter names of a function, a Prefect task or flow (its ``fn``), a method."""
    fn = getattr(obj, "fn", obj)
    return [name for name in inspect.signature(fn).parameters if name != "self"]


def test_public_names_are_exactly_the_pinned_set() -> None:
    assert set(prefect_jobrelay.__all__) == EXPECTED_NAMES
    for name in prefect_jobrelay.__all__:
        assert getattr(prefect_jobrelay, name) is not None


def test_every_public_callable_takes_the_pinned_parameters() -> None:
    for name, expected in CALLABLES.items():
        assert parameters(getattr(prefect_jobrelay, name)) == expected, name


def test_the_blocks_have_the_pinned_fields_and_methods() -> None:
    for name, fields in BLOCK_FIELDS.items():
        assert set(getattr(prefect_jobrelay, name).model_fields) == fields, name
    for name, methods in METHODS.items():
        cls = getattr(prefect_jobrelay, name)
        for method, expected in methods.items():
            assert parameters(getattr(cls, method)) == expected, f"{name}.{method}"


def test_run_job_follows_prefects_foo_afoo_convention() -> None:
    # arun_job is the async task; run_job the sync one, with the task API of a sync task.
    assert inspect.iscoroutinefunction(prefect_jobrelay.arun_job.fn)
    assert not inspect.iscoroutinefunction(prefect_jobrelay.run_job.fn)
    assert prefect_jobrelay.run_job.name == "run_job"
    assert prefect_jobrelay.arun_job.name == "arun_job"
    for attribute in ("submit", "map", "with_options"):
        assert callable(getattr(prefect_jobrelay.run_job, attribute)), attribute
