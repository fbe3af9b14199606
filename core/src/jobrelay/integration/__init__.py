"""What every orchestrator adapter needs and no orchestrator owns: the integration-author
surface. The Airflow provider, the Prefect integration and the Dagster integration import
only from here and from :mod:`jobrelay` (tests/test_surfaces.py and an import-linter
contract hold them to it), so everything they share is declared in ``__all__``:

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
  owner has ended (one lookup per orchestrator); :func:`check_grace` and
  :func:`stored_memory` — its grace period and its memory as an adapter takes them;
- argument checks that raise :class:`~jobrelay.ConfigError` naming the field
  (:func:`check_flag`, :func:`check_wait_options`, :func:`poll_policy_from`,
  :func:`check_artifact_key`, :func:`spec_fields`, :func:`config_error_from`);
- platform URLs (:func:`parse_platform_url`, :func:`resolve_platform_url`,
  :func:`known_schemes`, :func:`platform_settings`) and artifact names and stores
  (:data:`LATEST`, :func:`check_name`, :func:`check_alias`, :func:`split_artifact_uri`,
  :func:`opened_store`) for an IO manager.

Names load on first use (PEP 562): an Airflow DAG file that makes a :class:`KillSwitch` as
it is parsed does not import the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobrelay._lazy import lazy_names

if TYPE_CHECKING:
    from jobrelay._checks import (
        check_artifact_key,
        check_flag,
        check_wait_options,
        poll_policy_from,
        spec_fields,
    )
    from jobrelay._kills import Interrupted, Killed, KillSwitch
    from jobrelay._owners import Owner
    from jobrelay.artifacts.base import LATEST, check_alias, check_name, split_artifact_uri
    from jobrelay.artifacts.registry import opened_store
    from jobrelay.integration.bridge import cancel_after_kill, run_sync, until_killed
    from jobrelay.integration.clients import client_options, shared_client
    from jobrelay.integration.events import TerminalEvent, wait_event
    from jobrelay.integration.grace import check_grace, stored_memory
    from jobrelay.integration.identity import MAX_KEY, idempotency_key, scope_prefix, scoped_key
    from jobrelay.integration.inputs import job_ref_from, normalize_inputs, parse_rendered
    from jobrelay.integration.ownership import with_deadline, with_owner
    from jobrelay.integration.provenance import with_provenance
    from jobrelay.integration.record import run_record
    from jobrelay.integration.scopes import active_in_scope, cancel_scope
    from jobrelay.integration.sweeping import (
        OwnerLookup,
        OwnerReport,
        OwnerState,
        SweepDecision,
        SweepReport,
        sweep,
    )
    from jobrelay.models import config_error_from
    from jobrelay.platforms.registry import known_schemes, platform_settings
    from jobrelay.urls import parse_platform_url, resolve_platform_url

__all__ = [
    "LATEST",
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
    "check_alias",
    "check_artifact_key",
    "check_flag",
    "check_grace",
    "check_name",
    "check_wait_options",
    "client_options",
    "config_error_from",
    "idempotency_key",
    "job_ref_from",
    "known_schemes",
    "normalize_inputs",
    "opened_store",
    "parse_platform_url",
    "parse_rendered",
    "platform_settings",
    "poll_policy_from",
    "resolve_platform_url",
    "run_record",
    "run_sync",
    "scope_prefix",
    "scoped_key",
    "shared_client",
    "spec_fields",
    "split_artifact_uri",
    "stored_memory",
    "sweep",
    "until_killed",
    "wait_event",
    "with_deadline",
    "with_owner",
    "with_provenance",
]

# Each name's home module; a name is imported (with its module) the first time it is read.
# No name is also a submodule's name (why the sweep lives in sweeping.py; see lazy_names).
_HOMES = {
    **dict.fromkeys(
        ("LATEST", "check_alias", "check_name", "split_artifact_uri"), "jobrelay.artifacts.base"
    ),
    "opened_store": "jobrelay.artifacts.registry",
    **dict.fromkeys(
        (
            "check_artifact_key",
            "check_flag",
            "check_wait_options",
            "poll_policy_from",
            "spec_fields",
        ),
        "jobrelay._checks",
    ),
    **dict.fromkeys(
        ("cancel_after_kill", "run_sync", "until_killed"), "jobrelay.integration.bridge"
    ),
    **dict.fromkeys(("client_options", "shared_client"), "jobrelay.integration.clients"),
    **dict.fromkeys(("TerminalEvent", "wait_event"), "jobrelay.integration.events"),
    **dict.fromkeys(("check_grace", "stored_memory"), "jobrelay.integration.grace"),
    **dict.fromkeys(
        ("MAX_KEY", "idempotency_key", "scope_prefix", "scoped_key"),
        "jobrelay.integration.identity",
    ),
    **dict.fromkeys(
        ("job_ref_from", "normalize_inputs", "parse_rendered"), "jobrelay.integration.inputs"
    ),
    **dict.fromkeys(("with_deadline", "with_owner"), "jobrelay.integration.ownership"),
    "with_provenance": "jobrelay.integration.provenance",
    "run_record": "jobrelay.integration.record",
    **dict.fromkeys(("active_in_scope", "cancel_scope"), "jobrelay.integration.scopes"),
    **dict.fromkeys(
        ("OwnerLookup", "OwnerReport", "OwnerState", "SweepDecision", "SweepReport", "sweep"),
        "jobrelay.integration.sweeping",
    ),
    **dict.fromkeys(("Interrupted", "Killed", "KillSwitch"), "jobrelay._kills"),
    "config_error_from": "jobrelay.models",
    "Owner": "jobrelay._owners",
    **dict.fromkeys(("known_schemes", "platform_settings"), "jobrelay.platforms.registry"),
    **dict.fromkeys(("parse_platform_url", "resolve_platform_url"), "jobrelay.urls"),
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
