"""Pure functions between jobrelay's models and Ray's Jobs REST API (``reference/ray.md``).

Request bodies are built here, response bodies parsed here; nothing in this module does
I/O, so every wire decision can be tested without a cluster.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from jobrelay.errors import ConfigError
from jobrelay.models import JobRef, JobSpec, JobState, JobStatus, LogLine
from jobrelay.platforms.settings import check_host
from jobrelay.urls import parse_platform_url

__all__ = [
    "KEY_METADATA",
    "NONCE_METADATA",
    "RayAddress",
    "build_submit_body",
    "job_page_url",
    "new_submission_id",
    "parse_address",
    "parse_status",
    "read_log_cursor",
    "split_new_lines",
    "submission_id_for",
]

KEY_METADATA = "jobrelay.idempotency_key"
NONCE_METADATA = "jobrelay.submit_nonce"
OWNER_METADATA = "jobrelay.owner"
NAME_METADATA = "job_name"  # the key Ray's own tools show as the job's name
DEFAULT_PORT = 8265
SUBMISSION_PREFIX = "jobrelay-"
# Keys of JobSpec.config this platform understands; anything else is a ConfigError.
CONFIG_KEYS = frozenset({"runtime_env", "entrypoint_label_selector"})
# The runtime_env fields Ray 2.x knows (ray.runtime_env.RuntimeEnv and its built-in
# plugins); Ray passes any other key on to a plugin that does not exist and ignores it.
RUNTIME_ENV_KEYS = frozenset(
    {
        "working_dir",
        "py_modules",
        "py_executable",
        "pip",
        "uv",
        "conda",
        "container",
        "image_uri",
        "env_vars",
        "excludes",
        "config",
        "java_jars",
        "nsight",
        "mpi",
        "worker_process_setup_hook",
        "_inject_current_ray",
    }
)
MESSAGE_LIMIT = 2000

_STATES: dict[str, JobState] = {
    "PENDING": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "STOPPED": JobState.CANCELLED,
}
_RAY_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\t[A-Z]+ job_manager\.py:\d+ -- ")


# -- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RayAddress:
    """Where the dashboard is: ``base_url`` for HTTP, ``platform_url`` for ``JobRef``s."""

    platform_url: str
    base_url: str
    host: str


def parse_address(url: str) -> RayAddress:
    """``ray://host:port[/prefix]`` (http) or ``ray+https://host:port[/prefix]``.

    The port defaults to 8265 (Ray's dashboard) for ``ray://`` and 443 for ``ray+https://``.
    Options in the query are settings (:class:`~jobrelay.platforms.ray.RaySettings`).

    >>> parse_address("ray://127.0.0.1:8265").base_url
    'http://127.0.0.1:8265'
    """
    parsed = parse_platform_url(url)
    if parsed.scheme not in ("ray", "ray+https"):
        raise ConfigError(f"not a Ray URL: {url!r}", field="platform")
    parts = urlsplit(url)
    host = check_host(parts.hostname, field="platform", example="ray://127.0.0.1:8265")
    https = parsed.scheme == "ray+https"
    name = f"[{host}]" if ":" in host else host
    netloc = f"{name}:{parts.port or (443 if https else DEFAULT_PORT)}"
    prefix = parsed.path.rstrip("/")
    return RayAddress(
        platform_url=f"{parsed.scheme}://{netloc}{prefix}",
        base_url=f"{'https' if https else 'http'}://{netloc}{prefix}",
        host=host,
    )


def job_page_url(base_url: str, submission_id: str) -> str:
    """The dashboard page of one job."""
    return f"{base_url}/#/jobs/{quote(submission_id, safe='')}"


# -- submitting --------------------------------------------------------------------------


def submission_id_for(idempotency_key: str) -> str:
    """The deterministic Ray ``submission_id`` of an idempotency key.

    >>> submission_id_for("nightly-2024-01-01").startswith("jobrelay-")
    True
    """
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{SUBMISSION_PREFIX}{digest[:24]}"


def new_submission_id() -> str:
    """A random id for a job without a key: chosen by us, so a retried POST is recognised."""
    return f"{SUBMISSION_PREFIX}{uuid.uuid4().hex[:24]}"


def check_spec(spec: JobSpec) -> None:
    """Refuse what only Ray refuses (the core checks the fields every platform declares)."""
    base_runtime_env(spec)
    upload_excludes(spec)
    local_py_modules(spec)


def base_runtime_env(spec: JobSpec) -> dict[str, Any]:
    """``config['runtime_env']`` with ``spec.env`` merged into its ``env_vars``."""
    runtime_env = spec.config.get("runtime_env", {})
    if not isinstance(runtime_env, Mapping):
        raise ConfigError("must be a mapping, e.g. {'pip': ['requests']}", field="runtime_env")
    for key in runtime_env:
        if key not in RUNTIME_ENV_KEYS:
            close = difflib.get_close_matches(str(key), sorted(RUNTIME_ENV_KEYS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{key!r} is not a Ray runtime_env key, so Ray would ignore it; {hint}known: "
                + ", ".join(sorted(RUNTIME_ENV_KEYS)),
                field=f"runtime_env.{key}",
            )
    merged = dict(runtime_env)
    env_vars = merged.get("env_vars", {})
    if not isinstance(env_vars, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items()
    ):
        raise ConfigError("env_vars must map names to strings", field="runtime_env.env_vars")
    env_vars = {**env_vars, **spec.env}
    if env_vars:
        merged["env_vars"] = env_vars
    else:
        merged.pop("env_vars", None)
    return merged


def local_working_dir(spec: JobSpec) -> str | None:
    """The local folder to upload, when the job names one (a URI is passed as it is)."""
    runtime_env = spec.config.get("runtime_env", {})
    candidate = spec.working_dir or (
        runtime_env.get("working_dir") if isinstance(runtime_env, Mapping) else None
    )
    if candidate is None or "://" in str(candidate):
        return None
    return str(candidate)


def local_py_modules(spec: JobSpec) -> list[str]:
    """The ``runtime_env['py_modules']`` entries that are local paths, to upload first."""
    runtime_env = spec.config.get("runtime_env", {})
    modules = runtime_env.get("py_modules", []) if isinstance(runtime_env, Mapping) else []
    if not isinstance(modules, list | tuple) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(
            "must be a list of folders, .py or .whl files, or URIs, e.g. ['src/mypkg'], "
            f"got {modules!r}",
            field="runtime_env.py_modules",
        )
    return [m for m in modules if "://" not in m]


def upload_excludes(spec: JobSpec) -> list[str]:
    """``runtime_env['excludes']``: gitignore patterns of files to leave out of the upload."""
    runtime_env = spec.config.get("runtime_env", {})
    excludes = runtime_env.get("excludes", []) if isinstance(runtime_env, Mapping) else []
    if not isinstance(excludes, list | tuple) or not all(isinstance(p, str) for p in excludes):
        raise ConfigError(
            f"must be a list of gitignore patterns, e.g. ['data/', '*.ckpt'], got {excludes!r}",
            field="runtime_env.excludes",
        )
    return list(excludes)


def entrypoint_resources(resources: Mapping[str, float]) -> dict[str, Any]:
    """``JobSpec.resources`` as Ray's ``entrypoint_*`` fields.

    ``CPU``/``num_cpus`` -> ``entrypoint_num_cpus``, ``GPU``/``num_gpus`` ->
    ``entrypoint_num_gpus``, ``memory`` (bytes) -> ``entrypoint_memory``, anything else ->
    ``entrypoint_resources``.
    """
    fields: dict[str, Any] = {}
    custom: dict[str, float] = {}
    for name, amount in resources.items():
        if amount < 0:
            raise ConfigError(f"{name} must not be negative, got {amount}", field="resources")
        key = name.lower()
        if key in ("cpu", "num_cpus"):
            fields["entrypoint_num_cpus"] = amount
        elif key in ("gpu", "num_gpus"):
            fields["entrypoint_num_gpus"] = amount
        elif key == "memory":
            fields["entrypoint_memory"] = int(amount)
        else:
            custom[name] = amount
    if custom:
        fields["entrypoint_resources"] = custom
    return fields


def build_submit_body(
    spec: JobSpec,
    *,
    submission_id: str,
    nonce: str,
    working_dir_uri: str | None = None,
    py_module_uris: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/jobs/`` for ``spec``; uploaded local paths (the working
    dir, ``py_modules`` entries) are replaced by their package URIs.

    Raises ``ConfigError`` for what Ray cannot do (see :func:`check_spec`).
    """
    check_spec(spec)
    entrypoint = (
        spec.entrypoint if isinstance(spec.entrypoint, str) else shlex.join(spec.entrypoint)
    )
    runtime_env = base_runtime_env(spec)
    if working_dir_uri is not None:
        runtime_env["working_dir"] = working_dir_uri
    elif spec.working_dir is not None:
        runtime_env["working_dir"] = spec.working_dir
    if py_module_uris:
        runtime_env["py_modules"] = [py_module_uris.get(m, m) for m in runtime_env["py_modules"]]
    metadata = {str(k): str(v) for k, v in spec.tags.items()}
    if spec.name:
        metadata[NAME_METADATA] = spec.name
    if spec.idempotency_key is not None:
        metadata[KEY_METADATA] = spec.idempotency_key
    if spec.owner is not None:
        metadata[OWNER_METADATA] = spec.owner
    metadata[NONCE_METADATA] = nonce
    body: dict[str, Any] = {
        "entrypoint": entrypoint,
        "submission_id": submission_id,
        "metadata": metadata,
        **entrypoint_resources(spec.resources),
    }
    if runtime_env:
        body["runtime_env"] = runtime_env
    selector = spec.config.get("entrypoint_label_selector")
    if selector is not None:
        body["entrypoint_label_selector"] = selector
    return body


# -- statuses ----------------------------------------------------------------------------


def _time(ms: Any) -> datetime | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool) or ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _message(details: Mapping[str, Any]) -> str | None:
    """Ray's message without the log copy it appends (the core shows the log tail itself)."""
    raw = details.get("message")
    text = raw.split(", last available logs", 1)[0].strip() if isinstance(raw, str) else ""
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 3] + "..."
    error_type = details.get("error_type")
    if error_type:
        text = f"{text} [{error_type}]" if text else str(error_type)
    return text or None


def job_id_of(details: Mapping[str, Any]) -> str | None:
    """The id a JobRef uses: the submission id, else (a bare driver) Ray's job id."""
    value = details.get("submission_id") or details.get("job_id")
    return str(value) if value else None


def ref_from_details(details: Mapping[str, Any], platform_url: str, base_url: str) -> JobRef:
    job_id = job_id_of(details) or ""
    metadata = details.get("metadata") or {}
    return JobRef(
        platform=platform_url,
        id=job_id,
        idempotency_key=metadata.get(KEY_METADATA) if isinstance(metadata, Mapping) else None,
        url=job_page_url(base_url, job_id),
    )


def parse_status(details: Mapping[str, Any], ref: JobRef, base_url: str) -> JobStatus:
    """A ``JobStatus`` from Ray's JobDetails; an unseen status is ``UNKNOWN`` with its value.

    Ray reports when a job was submitted (``start_time``) and ended, not when its
    entrypoint started, so ``started_at`` stays unknown.
    """
    raw_state = str(details.get("status") or "")
    metrics: dict[str, Any] = {}
    for field in ("error_type", "job_id", "driver_node_id"):
        if details.get(field):
            metrics[f"ray_{field}"] = details[field]
    exit_code = details.get("driver_exit_code")
    metadata = details.get("metadata")
    owner = metadata.get(OWNER_METADATA) if isinstance(metadata, Mapping) else None
    name = metadata.get(NAME_METADATA) if isinstance(metadata, Mapping) else None
    return JobStatus(
        ref=ref,
        name=name if isinstance(name, str) else None,
        state=_STATES.get(raw_state, JobState.UNKNOWN),
        platform_state=raw_state or "<missing>",
        message=_message(details),
        submitted_at=_time(details.get("start_time")),
        ended_at=_time(details.get("end_time")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        url=ref.url or job_page_url(base_url, ref.id),
        metrics=metrics,
        owner=owner if isinstance(owner, str) else None,
    )


# -- logs --------------------------------------------------------------------------------


def read_log_cursor(cursor: str | None) -> int:
    """The character offset a cursor stands for (``None`` is the start)."""
    if cursor is None or cursor == "":
        return 0
    if cursor.isdigit():
        return int(cursor)
    raise ConfigError(f"{cursor!r} is not a Ray log cursor; pass back page.cursor", field="cursor")


def _stream(text: str, submission_id: str) -> Literal["stdout", "system"]:
    if _RAY_LOG_LINE.match(text) or text.startswith(f"Running entrypoint for job {submission_id}:"):
        return "system"
    return "stdout"


def split_new_lines(
    log: str, offset: int, *, final: bool, submission_id: str, max_lines: int = 10_000
) -> tuple[list[LogLine], int]:
    """The complete lines of ``log`` after character ``offset``, and the offset after them.

    Ray returns the whole log on every call and the file only grows, so an offset into it
    is a cursor that never repeats or skips a line. A last line without its newline is held
    back until it is finished, or until ``final`` (the log was read after the job ended).
    Ray merges stdout and stderr; its own set-up lines are marked ``system``.
    """
    if offset >= len(log):
        return [], offset
    lines: list[LogLine] = []
    position = offset
    while len(lines) < max_lines and position < len(log):
        end = log.find("\n", position)
        if end == -1:
            if not final:
                break
            end = len(log)
        text = log[position:end].removesuffix("\r")
        lines.append(LogLine(text=text, stream=_stream(text, submission_id)))
        position = min(end + 1, len(log))
    return lines, position
