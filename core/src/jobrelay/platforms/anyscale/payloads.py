"""Pure builders and parsers for the Anyscale Jobs API (``reference/anyscale.md``,
``reference/sdk-measured.md``): no I/O here.

Wire facts this module relies on: the create body omits nulls; a job's state is
``state.current_state`` (``HaJobStates``); a job waiting in a job queue is ``PENDING`` with
a ``job_queue_id`` and, in the decorated list shape, ``position_in_job_queue``; runs come from
a separate search; logs are chunks listed by *run* id.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from jobrelay.errors import ConfigError
from jobrelay.models import JobRef, JobSpec, JobState, JobStatus, LogLine
from jobrelay.platforms._cursors import read_cursor, write_cursor

__all__ = [
    "CONFIG_KEYS",
    "JOB_LIST_MAX",
    "KEY_TAG",
    "LogCursor",
    "build_create_body",
    "check_spec",
    "chunk_lines",
    "compute_search_body",
    "decode_chunk",
    "exit_code_of",
    "job_list_params",
    "map_state",
    "parse_status",
    "queue_position",
    "read_log_cursor",
    "runs_search_body",
    "settled_state",
    "tagged_job",
    "write_log_cursor",
]

# The tag an idempotency key travels in (tags are a string map; the list filters on them).
KEY_TAG = "jobrelay-idempotency-key"
# The tag a job's owner travels in (jobrelay._owners; read back by a sweep from the job list).
OWNER_TAG = "jobrelay-owner"
# JobSpec.config keys this platform understands.
CONFIG_KEYS = frozenset(
    {"image_uri", "compute_config", "requirements", "job_queue", "project", "cloud"}
)
# jobrelay's priority is "higher runs first"; Anyscale's is 0 = highest, larger = later.
PRIORITY_BASE = 1000
_QUEUE_SPEC_KEYS = frozenset(
    {
        "max_concurrency",
        "execution_mode",
        "idle_timeout_sec",
        "auto_termination_threshold_job_count",
    }
)
_REMOTE_URI = re.compile(r"^(s3|gs|https?|azure|abfss)://")

_STATES: Mapping[str, JobState] = {
    "PENDING": JobState.STARTING,
    "AWAITING_CLUSTER_START": JobState.STARTING,
    "UPDATING": JobState.RUNNING,
    "RUNNING": JobState.RUNNING,
    "RESTARTING": JobState.RUNNING,
    "CLEANING_UP": JobState.RUNNING,
    "ERRORED": JobState.RUNNING,  # transient: Anyscale may restart the job from here
    "SUCCESS": JobState.SUCCEEDED,
    "TERMINATED": JobState.CANCELLED,
    "BROKEN": JobState.FAILED,
    "OUT_OF_RETRIES": JobState.FAILED,
}
_EXIT_CODE = re.compile(r"exit code (-?\d+)")


def map_state(current: str, *, in_queue: bool) -> JobState:
    """DESIGN §4: PENDING in a job queue is QUEUED; an unseen state is UNKNOWN."""
    if current == "PENDING" and in_queue:
        return JobState.QUEUED
    return _STATES.get(current, JobState.UNKNOWN)


def _wire_priority(priority: int) -> int:
    if not -PRIORITY_BASE <= priority <= PRIORITY_BASE:
        raise ConfigError(
            f"must be between {-PRIORITY_BASE} and {PRIORITY_BASE} on Anyscale "
            "(higher runs first; sent as job_queue_config.priority, 0 = highest)",
            field="priority",
        )
    return PRIORITY_BASE - priority


def _queue_spec(spec: JobSpec) -> dict[str, Any] | None:
    raw = spec.config.get("job_queue")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "must be a mapping, e.g. {'max_concurrency': 2, 'idle_timeout_sec': 600}",
            field="config.job_queue",
        )
    unknown = sorted(set(raw) - _QUEUE_SPEC_KEYS)
    if unknown:
        known = ", ".join(sorted(_QUEUE_SPEC_KEYS))
        raise ConfigError(f"unknown key {unknown[0]!r}; known: {known}", field="config.job_queue")
    if spec.queue is None:
        raise ConfigError("a job queue spec needs queue=<its name>", field="config.job_queue")
    mode = raw.get("execution_mode", "FIFO")
    if mode not in ("FIFO", "LIFO", "PRIORITY"):
        raise ConfigError(
            f"execution_mode must be FIFO, LIFO or PRIORITY, got {mode!r}",
            field="config.job_queue",
        )
    for name in ("max_concurrency", "idle_timeout_sec", "auto_termination_threshold_job_count"):
        value = raw.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ConfigError(
                f"{name} must be a whole number, at least 1", field="config.job_queue"
            )
    return {
        "job_queue_name": spec.queue,
        "execution_mode": mode,
        "max_concurrency": raw.get("max_concurrency", 1),
        "idle_timeout_sec": raw.get("idle_timeout_sec", 600),
        **{k: raw[k] for k in ("auto_termination_threshold_job_count",) if raw.get(k) is not None},
    }


def _text_option(spec: JobSpec, key: str) -> str | None:
    value = spec.config.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError("must be a non-empty name or id", field=f"config.{key}")
    return value


def requirements_of(spec: JobSpec) -> list[str]:
    raw = spec.config.get("requirements", [])
    if not isinstance(raw, list) or not all(isinstance(r, str) and r.strip() for r in raw):
        raise ConfigError(
            "must be a list of requirement lines, e.g. ['requests==2.32.3']",
            field="config.requirements",
        )
    return [r.strip() for r in raw]


def check_spec(spec: JobSpec) -> None:
    """What only Anyscale refuses, before any request; raises ``ConfigError``."""
    local = local_working_dir(spec)
    if local is not None and not local.is_dir():
        raise ConfigError(
            f"{str(local)!r} is not a folder on this machine (or give a remote URI: "
            "s3://..., gs://..., https://...zip)",
            field="working_dir",
        )
    if spec.timeout_s is not None and spec.timeout_s != int(spec.timeout_s):
        raise ConfigError("Anyscale takes whole seconds", field="timeout_s")
    for key in ("image_uri", "compute_config", "project", "cloud"):
        _text_option(spec, key)
    requirements_of(spec)
    _queue_spec(spec)
    if spec.priority:
        if spec.queue is None:
            raise ConfigError(
                "only jobs in a job queue have a priority; add queue=", field="priority"
            )
        _wire_priority(spec.priority)
    for name, value in spec.tags.items():
        if name in (KEY_TAG, OWNER_TAG):
            raise ConfigError(
                f"{name} is jobrelay's own tag; use idempotency_key= or owner=", field="tags"
            )
        if not name or not value:
            raise ConfigError("tag names and values must not be empty", field="tags")


def local_working_dir(spec: JobSpec) -> Path | None:
    """The local folder ``spec.working_dir`` names, None for none or a remote URI."""
    if spec.working_dir is None or _REMOTE_URI.match(spec.working_dir):
        return None
    return Path(spec.working_dir).expanduser()


def package_file_name(data: bytes) -> str:
    """The SDK's name for a working-dir zip: ``pkg_<md5 of the zip>.zip``."""
    return f"pkg_{hashlib.md5(data, usedforsecurity=False).hexdigest()}.zip"


def entrypoint_text(spec: JobSpec) -> str:
    if isinstance(spec.entrypoint, str):
        return spec.entrypoint
    import shlex

    return shlex.join(spec.entrypoint)


def build_create_body(
    spec: JobSpec,
    *,
    name: str,
    project_id: str,
    build_id: str,
    compute_config_id: str,
    working_dir_uri: str | None = None,
) -> dict[str, Any]:
    """The ``POST /api/v2/decorated_ha_jobs/create`` body, nulls omitted as the SDK does.

    ``working_dir_uri`` is where a local ``working_dir`` was uploaded (its path goes in
    ``user_provided_working_dir``, as the SDK sends it).
    """
    check_spec(spec)
    runtime_env: dict[str, Any] = {}
    if local_working_dir(spec) is not None:
        if working_dir_uri is None:
            raise ConfigError("a local working_dir must be uploaded first", field="working_dir")
        runtime_env["working_dir"] = working_dir_uri
        runtime_env["user_provided_working_dir"] = spec.working_dir
    elif spec.working_dir is not None:
        runtime_env["working_dir"] = spec.working_dir
    if spec.env:
        runtime_env["env_vars"] = dict(spec.env)
    requirements = requirements_of(spec)
    if requirements:
        runtime_env["pip"] = requirements
    config: dict[str, Any] = {
        "entrypoint": entrypoint_text(spec),
        "build_id": build_id,
        "compute_config_id": compute_config_id,
        # The SDK sends 1 when none is given; jobrelay's default is 0 (no re-run).
        "max_retries": spec.max_retries,
    }
    if runtime_env:
        config["runtime_env"] = runtime_env
    if spec.timeout_s is not None:
        config["timeout_s"] = int(spec.timeout_s)
    body: dict[str, Any] = {"name": name, "project_id": project_id, "config": config}
    tags = dict(spec.tags)
    if spec.idempotency_key is not None:
        tags[KEY_TAG] = spec.idempotency_key
    if spec.owner is not None:
        tags[OWNER_TAG] = spec.owner
    if tags:
        body["tags"] = tags
    if spec.queue is not None:
        queue: dict[str, Any] = {}
        queue_spec = _queue_spec(spec)
        if queue_spec is not None:
            queue["job_queue_spec"] = {**queue_spec, "compute_config_id": compute_config_id}
        else:
            queue["target_job_queue_name"] = spec.queue
        if spec.priority:
            queue["priority"] = _wire_priority(spec.priority)
        body["job_queue_config"] = queue
    return body


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def exit_code_of(message: str | None) -> int | None:
    """The entrypoint's exit code when the job's error names it (``… exit code 3 …``)."""
    found = _EXIT_CODE.search(message or "")
    return int(found.group(1)) if found else None


def parse_status(
    job: Mapping[str, Any],
    ref: JobRef,
    *,
    runs: Sequence[Mapping[str, Any]] = (),
    queue_name: str | None = None,
    queue_position: int | None = None,
) -> JobStatus:
    """A ``JobStatus`` from a job object (any of its three shapes) and its runs."""
    state = job.get("state") or {}
    current = str(state.get("current_state") or "")
    in_queue = bool(job.get("job_queue_id")) and current == "PENDING"
    position = job.get("position_in_job_queue", queue_position)
    unified = map_state(current, in_queue=in_queue)
    message = state.get("error") or state.get("operation_message") or None
    queue = job.get("job_queue") or {}
    started = [_time(r.get("created_at")) for r in runs]
    finished = [_time(r.get("finished_at")) for r in runs]
    return JobStatus(
        ref=ref,
        state=unified,
        platform_state=current or "(none)",
        message=str(message) if message else None,
        queue=(queue.get("name") if isinstance(queue, Mapping) else None) or queue_name,
        queue_position=int(position) if in_queue and isinstance(position, int) else None,
        attempt=max(1, len(runs)),
        submitted_at=_time(job.get("created_at")),
        started_at=next((t for t in started if t), None),
        ended_at=(finished[-1] if finished and unified.is_terminal else None)
        or (_time(state.get("state_transitioned_at")) if unified.is_terminal else None),
        exit_code=exit_code_of(str(message))
        if unified is JobState.FAILED
        else (0 if unified is JobState.SUCCEEDED else None),
        url=job.get("overview_url") or ref.url,
        owner=_owner_tag(job),
    )


def _owner_tag(job: Mapping[str, Any]) -> str | None:
    tags = job.get("tags")
    owner = tags.get(OWNER_TAG) if isinstance(tags, Mapping) else None
    return owner if isinstance(owner, str) else None


# -- logs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogCursor:
    """Where a log read stands: the run (by index in creation order), the listing page the
    next chunk is on, the chunk's index on that page, and how many complete lines of that
    chunk were already returned. Opaque to callers (base64 JSON)."""

    run: int = 0
    page: str | None = None
    chunk: int = 0
    lines: int = 0


_CURSOR_SHAPE: Mapping[str, tuple[type, ...]] = {
    "r": (int,),
    "p": (str, type(None)),
    "c": (int,),
    "l": (int,),
}


def read_log_cursor(cursor: str | None) -> LogCursor:
    """The position ``cursor`` names (None: the start); ``ConfigError(field="cursor")`` for a
    cursor this platform did not make."""
    if not cursor:
        return LogCursor()
    data = read_cursor(cursor, _CURSOR_SHAPE, platform="Anyscale")
    # read_cursor checked each field's type against _CURSOR_SHAPE
    return LogCursor(
        run=cast(int, data["r"]),
        page=cast("str | None", data["p"]),
        chunk=cast(int, data["c"]),
        lines=cast(int, data["l"]),
    )


def write_log_cursor(cursor: LogCursor) -> str:
    return write_cursor({"r": cursor.run, "p": cursor.page, "c": cursor.chunk, "l": cursor.lines})


def decode_chunk(body: bytes) -> str:
    """A downloaded chunk as text: gunzipped when it starts with the gzip magic."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return body.decode("utf-8", errors="replace")


def chunk_lines(text: str, *, skip: int, final: bool) -> tuple[list[LogLine], int]:
    """Complete lines of a chunk after the first ``skip``, and the new count of lines read.

    A last line without its newline is held back unless ``final`` (the chunk is closed).
    """
    parts = text.split("\n")
    tail = parts.pop()  # "" when the text ends with a newline
    if tail and final:
        parts.append(tail)
    new = parts[skip:]
    return [LogLine(text=line.removesuffix("\r")) for line in new], max(skip, len(parts))


# -- requests the platform sends and the listings it reads --------------------------------

JOB_LIST_MAX = 1000  # the largest page the job list answers
RUNS_PER_JOB = 100  # the runs one search returns per job


def job_list_params(*, count: int, archived: bool = True, **filters: str) -> dict[str, Any]:
    """Query parameters of the batch-job list, newest first: ``count`` clamped to the API's
    page (1..1000), archived jobs included unless ``archived`` is false, and ``filters``
    (``tag_filter``, ``job_queue_id``, ``state_filter``) as given."""
    return {
        "type_filter": "BATCH_JOB",
        "archive_status": "ALL" if archived else "NOT_ARCHIVED",
        "sort_field": "CREATED_AT",
        "sort_order": "DESC",
        "count": min(max(count, 1), JOB_LIST_MAX),
        **filters,
    }


def tagged_job(
    listed: Sequence[Mapping[str, Any]], tag: str, value: str
) -> Mapping[str, Any] | None:
    """The first job of a tag-filtered listing that carries ``tag`` = ``value``.

    A job listed without a tag map is taken: the server filtered on the tag already, and
    some listings leave tags out. A job tagged with another value is never taken.
    """
    for job in listed:
        tags = job.get("tags")
        if not isinstance(tags, Mapping) or tags.get(tag) == value:
            return job
    return None


def queue_position(listed: Sequence[Mapping[str, Any]], job_id: str) -> int | None:
    """The queue position the listing gives job ``job_id``; None when it is not listed."""
    return next(
        (job.get("position_in_job_queue") for job in listed if job.get("id") == job_id), None
    )


def runs_search_body(job_ids: Sequence[str]) -> dict[str, Any]:
    """The body of one runs search for all of ``job_ids``, each job's runs oldest first."""
    return {
        "ha_job_ids": list(job_ids),
        "max_runs_per_job": RUNS_PER_JOB,
        "sort_by_clauses": [{"sort_field": "CREATED_AT", "sort_order": "ASC"}],
    }


def compute_search_body(compute: str, cloud_id: str | None) -> dict[str, Any]:
    """The search for a compute config named ``name[:version]`` (any version: the newest),
    in ``cloud_id`` when known, across the organization."""
    name, _, version = compute.partition(":")
    body: dict[str, Any] = {
        "orgwide": True,
        "name": {"equals": name},
        "include_anonymous": True,
        "archive_status": "NOT_ARCHIVED",
        "version": int(version) if version.isdigit() else -1,
    }
    if cloud_id is not None:
        body["cloud_id"] = cloud_id
    return body


def settled_state(job: Mapping[str, Any]) -> JobState:
    """A job's unified state read outside its queue: enough to tell whether it has ended."""
    return map_state(str((job.get("state") or {}).get("current_state") or ""), in_queue=False)
