"""Apache Airflow provider for jobrelay.

Public modules: ``hooks`` (Connection -> client), ``operators`` (``SubmitJobOperator``),
``triggers`` (``JobTrigger``), ``sensors`` (``JobSensor``), ``links`` (``JobRelayJobLink``),
``reaper`` (``CancelOrphanedJobsOperator``, ``orphan_sweep_dag``), ``exceptions``; the
modules named with a leading underscore are internal.
Nothing heavy is imported here: Airflow reads :func:`get_provider_info` at start-up; the
reaper's names load on first use (``from airflow_jobrelay import orphan_sweep_dag``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_jobrelay.reaper import CancelOrphanedJobsOperator, orphan_sweep_dag

__version__ = "0.1.0"

__all__ = [
    "CONNECTION_FIELDS",
    "CONNECTION_FORM",
    "CancelOrphanedJobsOperator",
    "__version__",
    "get_provider_info",
    "orphan_sweep_dag",
]

_LAZY = {"CancelOrphanedJobsOperator", "orphan_sweep_dag"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from airflow_jobrelay import reaper

        return getattr(reaper, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The connection form, declared the way Airflow 3.3 reads it from provider info (the UI
# never imports the hook for it; hook methods are only read when wtforms is installed).
CONNECTION_FORM: dict[str, Any] = {
    "hidden-fields": ["login"],
    "relabeling": {"schema": "Platform", "host": "Address", "password": "Token"},
    "placeholders": {
        "schema": "local | ray | ray+https | wandb | anyscale | fused",
        "host": "127.0.0.1, /srv/jobrelay, team/project?queue=gpu, or ray://host:8265",
        "port": "8265 (Ray dashboard)",
        "password": "platform token or API key, if it needs one",
        "extra": '{"retries": 8, "artifacts": "s3://bucket/jobs"}',
    },
}
# Extra fields of the form; each is a platform option (README: Platform settings).
CONNECTION_FIELDS: dict[str, Any] = {
    "verify": {
        "label": "Verify TLS",
        "description": "Check the platform's TLS certificate (off only for a test server).",
        "schema": {"type": ["boolean", "null"]},
    },
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Seconds each request to the platform may take.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Provider metadata for Airflow's ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-jobrelay",
        "name": "jobrelay",
        "description": "Run jobs on local, Ray, W&B Launch, Anyscale and Fused through jobrelay.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "jobrelay",
                "hook-class-name": "airflow_jobrelay.hooks.JobRelayHook",
                "hook-name": "jobrelay",
                "ui-field-behaviour": CONNECTION_FORM,
                "conn-fields": CONNECTION_FIELDS,
            }
        ],
        "extra-links": ["airflow_jobrelay.links.JobRelayJobLink"],
        "integrations": [
            {
                "integration-name": "jobrelay",
                "external-doc-url": "https://pypi.org/project/airflow-provider-jobrelay/",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": "jobrelay",
                "python-modules": ["airflow_jobrelay.operators", "airflow_jobrelay.reaper"],
            }
        ],
        "sensors": [
            {"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.sensors"]}
        ],
        "triggers": [
            {"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.triggers"]}
        ],
        "hooks": [{"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.hooks"]}],
    }
