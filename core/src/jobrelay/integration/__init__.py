"""What every orchestrator adapter needs and no orchestrator owns.

The Airflow provider, the Prefect integration and the Dagster integration are thin
because everything that is the same for all three lives here:

- :func:`idempotency_key` — an orchestrator's identity of the work -> the job's key;
- :func:`normalize_inputs` / :func:`job_ref_from` — values an orchestrator hands over (an
  ``ArtifactRef``, its JSON, an alias string, a rendered template) -> what the core takes;
- :func:`run_record` — a job's result as one JSON value (XCom, Prefect artifact, Dagster
  metadata);
- :class:`KillSwitch` / :func:`run_sync` — a wait run from synchronous code that a kill
  (a signal handler, a framework's interrupt) turns into a cancel on the wait's own loop;
- :func:`shared_client` — one opened client per process, event loop and settings, so
  concurrent waiters share one status hub;
- :class:`TerminalEvent` / :func:`wait_event` — how a serialized wait ends (an Airflow
  trigger event), typed, with errors kept as errors.
"""

from jobrelay.integration.bridge import (
    Interrupted,
    Killed,
    KillSwitch,
    cancel_after_kill,
    run_sync,
    until_killed,
)
from jobrelay.integration.clients import shared_client
from jobrelay.integration.events import TerminalEvent, wait_event
from jobrelay.integration.identity import MAX_KEY, idempotency_key
from jobrelay.integration.inputs import job_ref_from, normalize_inputs, parse_rendered
from jobrelay.integration.record import run_record

__all__ = [
    "MAX_KEY",
    "Interrupted",
    "KillSwitch",
    "Killed",
    "TerminalEvent",
    "cancel_after_kill",
    "idempotency_key",
    "job_ref_from",
    "normalize_inputs",
    "parse_rendered",
    "run_record",
    "run_sync",
    "shared_client",
    "until_killed",
    "wait_event",
]
