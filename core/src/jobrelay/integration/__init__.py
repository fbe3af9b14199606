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
  concurrent waiters share one status hub; :func:`client_options` — a URL, a credential
  kept apart and plain options -> the client's options;
- :func:`scoped_key` / :func:`cancel_scope` — keys that name the run they belong to, so a
  hook that runs elsewhere finds the run's jobs on the platform and cancels them;
- :class:`TerminalEvent` / :func:`wait_event` — how a serialized wait ends (an Airflow
  trigger event), typed, with errors kept as errors;
- :func:`with_provenance` — the orchestrator's labels as job tags, where the platform keeps
  tags;
- :class:`Owner` / :func:`with_owner` / :func:`with_deadline` — the unit of work that owns a
  job, recorded on the platform, and the platform's own deadline as the last line;
- :func:`sweep` / :class:`OwnerLookup` — the second line of defence: cancel the jobs whose
  owner has ended (one lookup per orchestrator).
"""

from jobrelay.integration.bridge import (
    Interrupted,
    Killed,
    KillSwitch,
    cancel_after_kill,
    run_sync,
    until_killed,
)
from jobrelay.integration.clients import client_options, shared_client
from jobrelay.integration.events import TerminalEvent, wait_event
from jobrelay.integration.identity import MAX_KEY, idempotency_key, scope_prefix, scoped_key
from jobrelay.integration.inputs import job_ref_from, normalize_inputs, parse_rendered
from jobrelay.integration.ownership import with_deadline, with_owner
from jobrelay.integration.provenance import with_provenance
from jobrelay.integration.record import run_record
from jobrelay.integration.scopes import active_in_scope, cancel_scope
from jobrelay.integration.sweep import (
    OwnerLookup,
    OwnerReport,
    OwnerState,
    SweepDecision,
    SweepReport,
    sweep,
)
from jobrelay.owners import Owner

__all__ = [
    "MAX_KEY",
    "Interrupted",
    "KillSwitch",
    "Killed",
    "Owner",
    "OwnerLookup",
    "OwnerReport",
    "OwnerState",
    "SweepDecision",
    "SweepReport",
    "TerminalEvent",
    "active_in_scope",
    "cancel_after_kill",
    "cancel_scope",
    "client_options",
    "idempotency_key",
    "job_ref_from",
    "normalize_inputs",
    "parse_rendered",
    "run_record",
    "run_sync",
    "scope_prefix",
    "scoped_key",
    "shared_client",
    "sweep",
    "until_killed",
    "wait_event",
    "with_deadline",
    "with_owner",
    "with_provenance",
]
