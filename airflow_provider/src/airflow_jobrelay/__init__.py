"""Apache Airflow provider for jobrelay.

Modules: ``hooks`` (Connection -> client), ``operators`` (``SubmitJobOperator``),
``triggers`` (``JobTrigger``), ``sensors`` (``JobSensor``), ``links`` (``JobRelayJobLink``).
Nothing heavy is imported here: Airflow reads :func:`get_provider_info` at start-up.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """Provider metadata for Airflow's ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-jobrelay",
        "name": "jobrelay",
        "description": "Run jobs on local, Ray, W&B and other platforms through jobrelay.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "jobrelay",
                "hook-class-name": "airflow_jobrelay.hooks.JobRelayHook",
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
            {"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.operators"]}
        ],
        "sensors": [
            {"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.sensors"]}
        ],
        "triggers": [
            {"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.triggers"]}
        ],
        "hooks": [{"integration-name": "jobrelay", "python-modules": ["airflow_jobrelay.hooks"]}],
    }
