"""One check of everything a run needs, before any request is made.

Every surface (``AsyncClient.submit``/``run``/``wait``, the CLI, the Airflow, Prefect and
Dagster adapters) calls these before it submits, so a bad value is refused while nothing
exists yet: no job is created that a failing task would then leave running. A refusal is
always a :class:`~jobrelay.errors.ConfigError` whose ``field`` names the argument as the
caller spelled it (``names`` maps the core's name to an adapter's own) and whose message
says what to give instead.

>>> try:
...     check_wait_options({"run_timeout": -1})
... except ConfigError as exc:
...     print(exc.field)
run_timeout
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobrelay._scalars import check_flag, check_seconds, field_name
from jobrelay.errors import ConfigError
from jobrelay.models import JobRef, JobSpec, JobState
from jobrelay.waiting import PollPolicy, WaitLimits

if TYPE_CHECKING:
    from jobrelay.artifacts.base import ArtifactStore
    from jobrelay.platforms.base import Platform

__all__ = [
    "RUN_OPTIONS",
    "WAIT_OPTIONS",
    "check_artifact_key",
    "check_client_store",
    "check_flag",
    "check_job_ref",
    "check_job_spec",
    "check_run_options",
    "check_seconds",
    "check_wait_options",
    "poll_policy_from",
    "spec_fields",
]

# The keyword arguments of ``AsyncClient.wait`` after the job, and those ``run`` adds.
WAIT_OPTIONS = frozenset(
    {
        "until",
        "queue_timeout",
        "run_timeout",
        "timeout",
        "cancel_on_timeout",
        "on_update",
        "follow_logs",
        "log_cursor",
        "raise_on_failure",
        "since",
    }
)
RUN_OPTIONS = frozenset({"cancel_on_kill", "on_submit"})
_UNTIL = (JobState.SUCCEEDED, JobState.RUNNING)


def _check_callable(value: object, *, field: str) -> None:
    if value is not None and not callable(value):
        raise ConfigError(f"must be a function or None, got {type(value).__name__}", field=field)


def check_job_spec(spec: object, *, field: str = "spec") -> JobSpec:
    """``spec`` as a ``JobSpec``: a ``JobSpec`` as it is, a mapping of its fields validated.

    Anything else (``None``, a number, a list) is a ``ConfigError`` naming ``field``; a
    bad field of the spec is the ``JobSpec``'s own ``ConfigError`` naming that field.
    """
    if isinstance(spec, JobSpec):
        return spec
    if isinstance(spec, Mapping):
        if not all(isinstance(key, str) for key in spec):
            raise ConfigError("must map JobSpec field names to values", field=field)
        return JobSpec(**spec)
    raise ConfigError(
        f"must be a JobSpec or a mapping of its fields (e.g. {{'entrypoint': 'python x.py'}}), "
        f"got {type(spec).__name__}",
        field=field,
    )


def spec_fields(spec: object, *, field: str = "spec") -> dict[str, Any]:
    """The fields of ``spec`` (a ``JobSpec`` or a mapping of its fields) as a new dict, for
    an adapter that adds to them (inputs, a key, the Pipes environment) before it builds
    the ``JobSpec``; anything else is a ``ConfigError`` naming ``field``."""
    if isinstance(spec, JobSpec):
        return spec.model_dump()
    if isinstance(spec, Mapping) and all(isinstance(key, str) for key in spec):
        return dict(spec)
    check_job_spec(spec, field=field)  # raises, saying what a spec is
    raise AssertionError("unreachable")


def check_job_ref(ref: object, *, field: str = "ref") -> JobRef:
    """``ref`` if it is a ``JobRef`` (what ``submit`` returned), else a ``ConfigError``."""
    if not isinstance(ref, JobRef):
        raise ConfigError(
            f"must be the JobRef that submit() returned (JobRef.model_validate(d) for its "
            f"dict), got {type(ref).__name__}",
            field=field,
        )
    return ref


def check_wait_options(
    options: Mapping[str, Any], *, names: Mapping[str, str] | None = None
) -> None:
    """Check the keyword arguments of ``AsyncClient.wait`` (all but the job) at once.

    An unknown name is refused too (it would otherwise fail only when the wait begins,
    after the submit). ``names`` maps a core option name to the caller's own.
    """
    unknown = sorted(str(name) for name in set(options) - WAIT_OPTIONS)
    if unknown:
        known = ", ".join(sorted(WAIT_OPTIONS))
        raise ConfigError(f"is not a wait option; the options are: {known}", field=unknown[0])
    try:
        WaitLimits(
            options.get("queue_timeout"),
            options.get("run_timeout"),
            options.get("timeout"),
            options.get("cancel_on_timeout", True),
        )
    except ConfigError as exc:
        raise ConfigError(_message(exc), field=field_name(exc.field or "", names)) from None
    until = options.get("until", JobState.SUCCEEDED)
    if not isinstance(until, JobState) or until not in _UNTIL:
        raise ConfigError(
            f"must be JobState.SUCCEEDED (the end) or JobState.RUNNING, got {until!r}",
            field=field_name("until", names),
        )
    for flag in ("follow_logs", "raise_on_failure"):
        if flag in options:
            check_flag(options[flag], field=field_name(flag, names))
    _check_callable(options.get("on_update"), field=field_name("on_update", names))
    cursor = options.get("log_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ConfigError(
            f"must be a cursor string from an earlier page, got {type(cursor).__name__}",
            field=field_name("log_cursor", names),
        )
    since = options.get("since")
    if since is not None and (not isinstance(since, datetime) or since.tzinfo is None):
        raise ConfigError(
            f"must be a timezone-aware datetime (e.g. datetime.now(UTC)), got {since!r}",
            field=field_name("since", names),
        )


def check_run_options(
    spec: object,
    options: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
) -> JobSpec:
    """Check what ``AsyncClient.run`` takes: the spec, ``cancel_on_kill``, ``on_submit``
    and the wait options. Returns the spec as a ``JobSpec``."""
    job = check_job_spec(spec, field=field_name("spec", names))
    if "cancel_on_kill" in options:
        check_flag(options["cancel_on_kill"], field=field_name("cancel_on_kill", names))
    _check_callable(options.get("on_submit"), field=field_name("on_submit", names))
    check_wait_options(
        {name: value for name, value in options.items() if name not in RUN_OPTIONS}, names=names
    )
    return job


def _message(exc: ConfigError) -> str:
    text = str(exc)
    return text.removeprefix(f"{exc.field}: ") if exc.field else text


def poll_policy_from(
    first: object,
    longest: object = None,
    *,
    fields: tuple[str, str] = ("poll_interval", "max_poll_interval"),
) -> PollPolicy | None:
    """The policy an adapter's two polling knobs ask for (``None``: the platform's own).

    ``first`` is the first interval in seconds, ``longest`` the longest one while nothing
    changes (default: ``first``); ``fields`` are the adapter's names for them.
    """
    if first is None and longest is None:
        return None
    initial = check_seconds(first, field=fields[0])
    most = check_seconds(longest, field=fields[1])
    if initial is not None and most is not None and most < initial:
        raise ConfigError(
            f"must be at least {fields[0]} ({initial:g} s), got {most:g}", field=fields[1]
        )
    if initial is None:
        assert most is not None
        initial = min(PollPolicy.initial_s, most)
    return PollPolicy(initial_s=initial, max_s=most if most is not None else initial)


def check_artifact_key(
    key: object,
    *,
    field: str,
    pattern: str = r"^[a-z0-9-]{1,256}$",
    hint: str = "lowercase letters, digits and dashes",
) -> str | None:
    """``key`` if ``None`` or a string ``pattern`` matches in full (an orchestrator's own
    format for the key it files a run's record under), else a ``ConfigError``."""
    if key is None:
        return None
    if not isinstance(key, str) or not re.fullmatch(pattern, key):
        raise ConfigError(f"must be {hint}, got {key!r}", field=field)
    return key


def check_client_store(platform: Platform, store: str | ArtifactStore | None) -> None:
    """Refuse a client ``artifacts=`` store that ``platform`` would not use.

    A platform that keeps job outputs itself (``native_artifacts``: W&B, Fused) uses its
    own store, named in its settings; a different client store is refused, naming where
    the store is set instead, rather than silently ignored.
    """
    if store is None or not platform.capabilities.native_artifacts:
        return
    own: Callable[[], ArtifactStore] | None = getattr(platform, "artifact_store", None)
    given = store if isinstance(store, str) else store.url
    if own is not None and own().url.rstrip("/") == given.rstrip("/"):
        return
    raise ConfigError(
        f"the {platform.name} platform keeps job outputs in its own store and would not use "
        f"{given!r}; leave the client's artifacts= out, and name the store in the platform's "
        "own settings where it takes one (e.g. fused://?artifacts=s3://bucket/outputs)",
        field="artifacts",
    )
