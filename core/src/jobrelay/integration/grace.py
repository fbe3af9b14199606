"""A sweep's grace period and the memory it hands to the next sweep, as an adapter takes
them from its user and its orchestrator's storage (an Airflow Variable, a Dagster sensor
cursor, a Prefect Variable).

Standard library and :mod:`jobrelay.errors` only: an Airflow DAG file checks its reaper's
grace period as it is parsed, which must not import the client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from jobrelay.errors import ConfigError

__all__ = ["check_grace", "stored_memory"]


def check_grace(value: object, *, field: str = "grace_s") -> float:
    """``value`` as a grace period: a finite number of seconds, 0 or more (not a boolean);
    else a :class:`~jobrelay.ConfigError` naming ``field``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < float("inf")
    ):
        raise ConfigError(f"must be a number of seconds, 0 or more, got {value!r}", field=field)
    return float(value)


def stored_memory(stored: object) -> dict[str, str]:
    """A sweep's memory (:attr:`~jobrelay.integration.SweepReport.memory`) as an
    orchestrator kept it between sweeps: the mapping, or its JSON text. Anything else, or
    damaged text, is no memory: the grace periods it held restart, and nothing is cancelled
    early because of it."""
    value = stored
    if isinstance(stored, str | bytes):
        try:
            value = json.loads(stored)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return {}
    if not isinstance(value, Mapping):
        return {}
    return {str(owner): str(when) for owner, when in value.items()}
