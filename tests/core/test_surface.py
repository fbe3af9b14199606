"""The public surfaces are pinned: additions are deliberate, removals are breaking.

``jobrelay`` is the user's surface; ``jobrelay.integration`` the integration author's (the
adapters import only these two: tests/test_surfaces.py); ``jobrelay.platforms`` is what a
third-party platform implements and registers, ``jobrelay.artifacts`` the stores and
handoff, ``jobrelay.runtime`` what a job imports. The adapters' own surfaces are pinned in
tests/{airflow,prefect,dagster}/test_surface.py.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from types import ModuleType

import jobrelay
import pytest

EXPECTED = {
    "APIError",
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactRef",
    "AsyncClient",
    "AuthError",
    "Client",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobRef",
    "JobRelayError",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobStatus",
    "JobTimeout",
    "JobUpdate",
    "LogLine",
    "LogPage",
    "NotFoundError",
    "PlatformError",
    "PollPolicy",
    "QueueInfo",
    "QueueMode",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "WaitLimits",
    "__version__",
}


def test_public_names_are_exactly_the_pinned_set() -> None:
    assert set(jobrelay.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in jobrelay.__all__:
        assert getattr(jobrelay, name) is not None


def test_errors_form_the_documented_tree() -> None:
    assert issubclass(jobrelay.ConfigError, jobrelay.JobRelayError)
    assert issubclass(jobrelay.TransportError, jobrelay.PlatformError)
    for name in ("AuthError", "NotFoundError", "ConflictError", "RateLimitedError", "ServerError"):
        assert issubclass(getattr(jobrelay, name), jobrelay.APIError)
    for name in ("JobFailed", "JobCancelled", "JobTimeout"):
        assert issubclass(getattr(jobrelay, name), jobrelay.JobError)
    assert issubclass(jobrelay.IntegrityError, jobrelay.ArtifactError)


# package -> its pinned __all__
PACKAGES: dict[str, set[str]] = {
    "jobrelay.integration": {
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
    },
    "jobrelay.platforms": {
        "Capabilities",
        "HttpPlatformSettings",
        "Platform",
        "PlatformSettings",
        "QueueAdmin",
        "load_settings",
        "open_platform",
        "platform_settings",
        "register_platform",
        "settings_model",
    },
    "jobrelay.artifacts": {
        "ARTIFACTS_ENV",
        "ArtifactStore",
        "FsspecArtifactStore",
        "Lineage",
        "LocalArtifactStore",
        "Reference",
        "SupportsLocalBlobs",
        "check_alias",
        "check_name",
        "check_relative_path",
        "collect_outputs",
        "earlier_producer",
        "input_refs",
        "known_store_schemes",
        "open_store",
        "outputs_dir",
        "parse_reference",
        "prepare_inputs",
        "record_inputs_consumed",
        "register_store",
        "resolve_store_url",
        "split_artifact_uri",
        "stage",
    },
    "jobrelay.runtime": {
        "HandoffError",
        "INPUTS_ENV",
        "OUTPUTS_ENV",
        "RECORDS_DIR",
        "RECORD_FORMAT",
        "input_path",
        "input_ref",
        "inputs",
        "log_output",
        "outputs_dir",
    },
}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_public_package_declares_exactly_its_pinned_names(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PACKAGES[package]
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_the_integration_surface_is_the_cores_own_objects() -> None:
    # A re-export, not a copy: the adapters and the core share one object per name.
    from jobrelay import _checks as checks
    from jobrelay import _kills as kills
    from jobrelay import _owners as owners
    from jobrelay.integration import Killed, KillSwitch, Owner, check_flag

    assert (Killed, KillSwitch, Owner, check_flag) == (
        kills.Killed,
        kills.KillSwitch,
        owners.Owner,
        checks.check_flag,
    )


def test_no_integration_name_turns_into_a_module_once_its_submodules_load() -> None:
    # Importing jobrelay.integration.X sets the package's attribute X to that module, so a
    # declared name equal to a submodule's name (the sweep once lived in sweep.py) would
    # read as the module in whichever process loaded the submodule first.
    import jobrelay.integration as integration

    for info in pkgutil.iter_modules(integration.__path__):
        importlib.import_module(f"jobrelay.integration.{info.name}")
    modules = [n for n in integration.__all__ if isinstance(getattr(integration, n), ModuleType)]
    assert modules == []


def test_the_packages_load_a_name_only_when_it_is_read() -> None:
    # What an Airflow DAG parse and a job's `from jobrelay import runtime` rely on: the
    # packages themselves import no client (httpx, pydantic) until a name is read.
    probe = (
        "import json, sys\n"
        "import jobrelay, jobrelay.integration\n"
        "heavy = ('jobrelay.client', 'jobrelay.integration.bridge', 'pydantic', 'httpx')\n"
        "before = [m for m in heavy if m in sys.modules]\n"
        "jobrelay.integration.KillSwitch\n"
        "killswitch = [m for m in heavy if m in sys.modules]\n"
        "jobrelay.integration.run_sync\n"
        "try:\n"
        "    jobrelay.integration.bridge_nope\n"
        "except AttributeError as exc:\n"
        "    missing = str(exc)\n"
        "print(json.dumps([before, killswitch, 'jobrelay.client' in sys.modules, missing]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    before, killswitch, client_after_run_sync, missing = json.loads(done.stdout)
    assert before == []
    assert killswitch == []
    assert client_after_run_sync
    assert missing == "module 'jobrelay.integration' has no attribute 'bridge_nope'"
