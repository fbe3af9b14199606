"""Pure builders and parsers for Fused batch jobs (``reference/fused.md``,
``reference/sdk-measured.md`` §2): no I/O here.

Wire facts this module relies on: a job starts with ``POST /run`` whose body is a
``JobConfig`` of one UDF step (nulls sent, as the SDK sends them) and whose query carries
``instance_type``, ``disk_size_gb`` and ``region``; a ``RunResponse`` has the *instance*
``status`` and the *job* ``job_status`` as separate fields; log records are
``{message, timestamp}`` (epoch ms) and ``since_ms`` re-reads the records of that
millisecond.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

from jobrelay._owners import Owner
from jobrelay.errors import ConfigError
from jobrelay.models import JobRef, JobSpec, JobState, JobStatus, LogLine
from jobrelay.platforms._cursors import read_cursor, write_cursor
from jobrelay.platforms.results import ResultFile

__all__ = [
    "CONFIG_KEYS",
    "INSTANCE_TYPES",
    "KEY_FIELD",
    "LogCursor",
    "build_start",
    "check_spec",
    "creation_date_of",
    "first_record_time",
    "job_name",
    "job_page_url",
    "map_state",
    "parse_status",
    "read_log_cursor",
    "records_after",
    "result_files",
    "started_at_of",
    "started_by_jobrelay",
    "with_listed",
    "write_log_cursor",
]

KEY_FIELD = "jobrelay_idempotency_key"  # in the job's metadata, exactly as given
NONCE_FIELD = "jobrelay_nonce"
CONFIG_KEYS = frozenset(
    {"code", "code_file", "inputs", "parameters", "instance_type", "disk_size_gb", "region"}
)
_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
INSTANCE_TYPES = frozenset(
    {f"m5.{s}" for s in _SIZES}
    | {f"r5.{s}" for s in _SIZES}
    | {f"t3.{s}" for s in ("small", "medium", "large", "xlarge", "2xlarge")}
    | {f"c2-standard-{n}" for n in (4, 8, 16, 30, 60)}
    | {"m3-ultramem-32", "m3-ultramem-64", "agent", "small", "medium", "large"}
)
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.:\-]*$")
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_.:\-]+")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXIT_CODE = re.compile(r"exit code (-?\d+)")
_JOB_STATES: Mapping[str, JobState] = {
    "Done": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "Canceled": JobState.CANCELLED,
}
_INSTANCE_STATES: Mapping[str, JobState] = {
    "pending": JobState.STARTING,
    "running": JobState.RUNNING,
}
# The job list (``JobResponse``) carries the job's ``job_status`` but not the instance's
# ``status``. These live values are the ones a ``RunResponse`` pairs with an instance that
# is ``pending`` / ``running``; any other live value needs the job's own read.
_LIVE_JOB_STATES: Mapping[str, JobState] = {
    "Pending": JobState.STARTING,
    "Running": JobState.RUNNING,
}
# What a RunResponse says of the instance, which a JobResponse cannot vouch for.
_INSTANCE_FIELDS = ("status", "terminal_status", "finished_job_status", "last_heartbeat")


# -- starting -----------------------------------------------------------------------------


def udf_code(spec: JobSpec) -> str:
    """The UDF's Python source: ``config.code``, or the file ``config.code_file`` names."""
    code, path = spec.config.get("code"), spec.config.get("code_file")
    if (code is None) == (path is None):
        raise ConfigError(
            "give the UDF's source as config.code or a local file as config.code_file "
            "(one of them)",
            field="config.code",
        )
    if path is not None:
        if not isinstance(path, str) or not Path(path).expanduser().is_file():
            raise ConfigError(f"{path!r} is not a file on this machine", field="config.code_file")
        return Path(path).expanduser().read_text()
    if not isinstance(code, str) or not code.strip():
        raise ConfigError("must be the UDF's Python source", field="config.code")
    return code


def check_spec(spec: JobSpec) -> None:
    """What only Fused refuses, before any request; raises ``ConfigError`` naming the field."""
    entry = spec.entrypoint
    if not isinstance(entry, str) or not _IDENTIFIER.match(entry):
        raise ConfigError(
            "on Fused names the UDF's function (e.g. 'udf'), whose source is config.code",
            field="entrypoint",
        )
    udf_code(spec)
    cfg = spec.config
    inputs = cfg.get("inputs")
    if inputs is not None and not isinstance(inputs, list):
        raise ConfigError("must be a list of JSON values, one UDF call each", field="config.inputs")
    if not isinstance(cfg.get("parameters", {}), Mapping):
        raise ConfigError("must be a mapping of the UDF's arguments", field="config.parameters")
    kind = cfg.get("instance_type")
    if kind is not None and kind not in INSTANCE_TYPES:
        raise ConfigError(
            f"{kind!r} is not a Fused batch instance type; e.g. small, t3.small, m5.large",
            field="config.instance_type",
        )
    disk = cfg.get("disk_size_gb")
    if disk is not None and (not isinstance(disk, int) or isinstance(disk, bool) or disk < 1):
        raise ConfigError("must be a whole number of GB, at least 1", field="config.disk_size_gb")
    region = cfg.get("region")
    if region is not None and (not isinstance(region, str) or not region.strip()):
        raise ConfigError("must be a region name, e.g. us-west-2", field="config.region")
    if spec.name is not None and not _NAME.match(spec.name):
        raise ConfigError(
            "a Fused job name starts with a letter and holds letters, digits and _.:-",
            field="name",
        )
    if spec.inputs:
        raise ConfigError(
            "a Fused UDF takes JSON values, not artifacts: put them in config.inputs",
            field=f"inputs.{sorted(spec.inputs)[0]}",
        )


def key_marker(key: str) -> str:
    """What a job's name carries of its idempotency key (any text; the name allows few)."""
    return "k" + hashlib.sha256(key.encode()).hexdigest()[:20]


def job_name(spec: JobSpec, nonce: str) -> str:
    """``<name>.<key marker>.o<owner>.n<nonce>``: the list finds a job by key or by nonce
    from it, and a sweep reads its owner from it (a job's status carries its name, and
    Fused keeps no tags anywhere cheaper to read: the job's config is two requests)."""
    base = spec.name or "jobrelay"
    parts = [base[:80]]
    if spec.idempotency_key is not None:
        parts.append(key_marker(spec.idempotency_key))
    if spec.owner is not None:
        parts.append(owner_marker(spec.owner))
    parts.append(f"n{_NAME_CHARS.sub('', nonce)}")
    return ".".join(parts)


def owner_marker(owner: str) -> str:
    """The owner as name characters: ``o`` and its unpadded lowercase base32."""
    return "o" + base64.b32encode(owner.encode()).decode().rstrip("=").lower()


def owner_in_name(name: object) -> str | None:
    """The owner :func:`owner_marker` put in a job's name (the part before the nonce),
    None when there is none (a user's own name may hold dots: only that place counts)."""
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) < 3 or not parts[-2].startswith("o"):
        return None
    text = parts[-2][1:].upper()
    try:
        owner = base64.b32decode(text + "=" * (-len(text) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return owner if Owner.read(owner) is not None else None
    for part in name.split(".")[1:]:
        if part.startswith("o") and len(part) > 1:
            text = part[1:].upper()
            try:
                return base64.b32decode(text + "=" * (-len(text) % 8)).decode()
            except (ValueError, UnicodeDecodeError):
                continue
    return None


def name_has_key(name: str, key: str) -> bool:
    return f".{key_marker(key)}." in f"{name}."


def build_start(spec: JobSpec, *, nonce: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The query and the JSON body of ``POST /run`` for ``spec``."""
    check_spec(spec)
    cfg = spec.config
    name = job_name(spec, nonce)
    metadata: dict[str, Any] = {NONCE_FIELD: nonce, **({"tags": spec.tags} if spec.tags else {})}
    if spec.idempotency_key is not None:
        metadata[KEY_FIELD] = spec.idempotency_key
    udf = {
        "name": spec.entrypoint,
        "type": "geopandas_v2",
        "code": udf_code(spec),
        "entrypoint": spec.entrypoint,
        "parameters": dict(cfg.get("parameters") or {}),
        "headers": [],
        "metadata": None,
        "collection_id": None,
        "collection_name": None,
        "cache_max_age": None,
        "engine": None,
        "disk_size_gb": None,
        "region": None,
        "original_headers": None,
    }
    step = {
        "type": "udf",
        "name": spec.entrypoint,
        "metadata": None,
        "ignore_chunk_error": False,
        "n_processes": None,
        "input": cfg.get("inputs"),
        "udf": udf,
    }
    body: dict[str, Any] = {
        "config": {"name": name, "metadata": metadata, "steps": [step]},
        "send_status_email": False,
    }
    if spec.env:
        body["additional_env"] = [f"{k}={v}" for k, v in spec.env.items()]
    query = {
        k: cfg[k] for k in ("instance_type", "disk_size_gb", "region") if cfg.get(k) is not None
    }
    return query, body


# -- status -------------------------------------------------------------------------------


def map_state(job_status: str | None, instance_status: str | None) -> JobState:
    """DESIGN §4: the job's terminal ``job_status`` first, else the instance's ``status``;
    with no instance status (a listed job), the live ``job_status`` (``Pending``,
    ``Running``); anything else is UNKNOWN."""
    if job_status is not None and job_status in _JOB_STATES:
        return _JOB_STATES[job_status]
    if instance_status is None:
        return _LIVE_JOB_STATES.get(job_status or "", JobState.UNKNOWN)
    return _INSTANCE_STATES.get(instance_status, JobState.UNKNOWN)


def started_by_jobrelay(name: object) -> bool:
    """Whether a job's name is one :func:`job_name` made (it ends in ``.n<nonce>``): such
    a job's step was sent with ``ignore_chunk_error: false``."""
    last = name.rsplit(".", 1)[-1] if isinstance(name, str) and "." in name else ""
    return len(last) == 17 and last[0] == "n" and all(c in "0123456789abcdef" for c in last[1:])


def with_listed(run: Mapping[str, Any], job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The job's last ``RunResponse`` brought up to date by its entry in the job list (a
    ``JobResponse``), when the list tells enough; None when only the job's own read does.

    Enough means: ``job_status`` unchanged (the response stands), a live value of
    :data:`_LIVE_JOB_STATES` (the instance fields are dropped: the list does not carry
    them), or ``Done`` of a job jobrelay started. A step sent with ``ignore_chunk_error:
    false`` fails on any UDF call's error, so such a job is Done once every one of its
    ``total_tasks`` calls finished. ``Failed`` and ``Canceled`` are read in full (how many
    calls finished is part of what went wrong), as is a ``Done`` of another client's job."""
    listed = job.get("job_status")
    if listed == run.get("job_status"):
        return run
    done = listed == "Done" and started_by_jobrelay(run.get("job_name"))
    if not (done or (isinstance(listed, str) and listed in _LIVE_JOB_STATES)):
        return None
    merged = {k: v for k, v in run.items() if k not in _INSTANCE_FIELDS}
    merged["job_status"] = listed
    merged["job_status_date"] = job.get("job_status_date")
    if done and isinstance(run.get("total_tasks"), int):
        merged["finished_tasks"] = run["total_tasks"]
    return merged


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


# The web app of each API the SDK knows by name (``fused._options.base_web_url``); any other
# API's web app is its scheme and host.
_WEB_APPS: Mapping[str, str] = {
    "https://staging.fused.io/server/v1": "https://staging.fused.io",
    "https://unstable.fused.io/server/v1": "https://unstable.fused.io",
    "http://localhost:8783/v1": "http://localhost:3000",
}


def job_page_url(base_url: str, job_id: str) -> str:
    """The job's page in the Fused workbench, as the SDK's ``logs_url`` names it:
    ``<web app>/workbench/jobs/<id>``."""
    web = _WEB_APPS.get(base_url.rstrip("/"))
    if web is None:
        parts = urlsplit(base_url)
        web = f"{parts.scheme}://{parts.netloc}"
    return f"{web}/workbench/jobs/{quote(job_id, safe='')}"


def creation_date_of(job: Mapping[str, Any]) -> datetime | None:
    """When a listed job (a ``JobResponse``) was created: its ``creation_date``."""
    return _time(job.get("creation_date"))


def started_at_of(run: Mapping[str, Any]) -> datetime | None:
    """When the job started, if this ``RunResponse`` tells: while ``job_status`` is
    ``Running``, ``job_status_date`` is when it became so. A terminal response no longer
    tells (its date is the end)."""
    if run.get("job_status") != "Running":
        return None
    return _time(run.get("job_status_date"))


def first_record_time(records: Sequence[Mapping[str, Any]]) -> datetime | None:
    """When the job's first log record was written (epoch ms), or None without records."""
    stamps = [
        r["timestamp"]
        for r in records
        if isinstance(r.get("timestamp"), int) and not isinstance(r.get("timestamp"), bool)
    ]
    return datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None


def exit_code_of(text: str | None) -> int | None:
    """The exit code a UDF's error names (``… exit code 3``), else None."""
    found = _EXIT_CODE.search(text or "")
    return int(found.group(1)) if found else None


def parse_status(
    run: Mapping[str, Any],
    ref: JobRef,
    *,
    error: str | None = None,
    submitted_at: datetime | None = None,
    started_at: datetime | None = None,
    url: str | None = None,
) -> JobStatus:
    """A ``JobStatus`` from a ``RunResponse``; ``error`` is a failed job's last error line.

    A ``RunResponse`` carries neither the creation date (the job list's ``creation_date``
    does: ``submitted_at``) nor a start date once the job ended (``started_at``: what an
    earlier response told, see :func:`started_at_of`)."""
    job_status = run.get("job_status")
    instance = run.get("status")
    state = map_state(job_status, instance)
    raw = str(job_status) if job_status and (state.is_terminal or not instance) else None
    total, finished = run.get("total_tasks"), run.get("finished_tasks")
    parts = []
    if isinstance(total, int) and total > 0:
        parts.append(f"{finished or 0} of {total} tasks finished")
    if error and state is JobState.FAILED:
        parts.append(error)
    return JobStatus(
        ref=ref,
        state=state,
        platform_state=raw or str(instance or job_status or "(none)"),
        message="; ".join(parts) or None,
        submitted_at=submitted_at,
        started_at=started_at or started_at_of(run),
        ended_at=_time(run.get("job_status_date")) if state.is_terminal else None,
        exit_code=0
        if state is JobState.SUCCEEDED
        else (exit_code_of(error) if state is JobState.FAILED else None),
        metrics={"total_tasks": total, "finished_tasks": finished}
        if isinstance(total, int)
        else {},
        url=url,
        owner=owner_in_name(run.get("job_name")),
    )


def last_error(records: Sequence[Mapping[str, Any]]) -> str | None:
    """The last log message that reads as an error (a traceback's last line)."""
    for record in reversed(records):
        text = str(record.get("message") or "").strip()
        if "Error" in text or "ERROR" in text or "Exception" in text:
            return text[:500]
    return None


# -- logs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogCursor:
    """The newest record's millisecond and how many records of that millisecond were
    returned already. Opaque to callers (base64 JSON)."""

    ms: int | None = None
    seen: int = 0


_CURSOR_SHAPE: Mapping[str, tuple[type, ...]] = {"t": (int, type(None)), "s": (int,)}


def read_log_cursor(cursor: str | None) -> LogCursor:
    """The position ``cursor`` names (None: the start); ``ConfigError(field="cursor")`` for a
    cursor this platform did not make."""
    if not cursor:
        return LogCursor()
    data = read_cursor(cursor, _CURSOR_SHAPE, platform="Fused")
    return LogCursor(cast("int | None", data["t"]), cast(int, data["s"]))  # types checked


def write_log_cursor(cursor: LogCursor) -> str:
    return write_cursor({"t": cursor.ms, "s": cursor.seen})


def since_ms(cursor: LogCursor) -> int | None:
    """What to send as ``since_ms``: one millisecond before the cursor's, so the records of
    the cursor's millisecond come back whether the API's bound is inclusive or not."""
    return None if cursor.ms is None else cursor.ms - 1


def records_after(
    records: Sequence[Mapping[str, Any]], cursor: LogCursor
) -> tuple[list[LogLine], LogCursor]:
    """The lines after ``cursor`` among ``records`` (answered to ``since_ms(cursor)``, in
    the API's order) and the cursor after them. Records of the cursor's millisecond are
    counted, not compared: many lines can share one millisecond, and two of them can be
    the same text."""
    lines: list[LogLine] = []
    at, seen, skipped = cursor.ms, cursor.seen, 0
    for record in records:
        ms = record.get("timestamp")
        if not isinstance(ms, int) or isinstance(ms, bool):
            continue
        if cursor.ms is not None and ms < cursor.ms:
            continue
        if cursor.ms is not None and ms == cursor.ms and skipped < cursor.seen:
            skipped += 1
            continue
        if ms == at:
            seen += 1
        else:
            at, seen = ms, 1
        text = str(record.get("message") or "").removesuffix("\n").removesuffix("\r")
        lines.append(LogLine(text=text, time=datetime.fromtimestamp(ms / 1000, UTC)))
    return lines, LogCursor(at, seen)


def artifact_safe(text: str) -> str:
    """``text`` as part of an artifact name (letters, digits and ``._-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-") or "result"
    return cleaned[:60]


METADATA_SUFFIX = ".metadata"  # the SDK's sidecar of a result: what its UDF returned, as JSON


def result_files(job_id: str, listed: Any) -> list[ResultFile]:
    """The result files of job ``job_id`` from its ``/results`` answer, by name: each stored
    as ``fused-<job>-<name>``, a ``.metadata`` sidecar a note (``fused_metadata``) of its
    file, not a file of its own. Entries without a URL are left out.

    >>> [f.artifact for f in result_files("j1", [{"name": "0.json", "url": "https://s/0"}])]
    ['fused-j1-0.json']
    """
    entries = listed if isinstance(listed, list) else []
    urls = {
        str(r["name"]): str(r["url"])
        for r in entries
        if isinstance(r, Mapping) and r.get("name") is not None and r.get("url")
    }
    return [
        ResultFile(
            name=name,
            artifact=f"fused-{artifact_safe(job_id)}-{artifact_safe(name)}",
            url=url,
            metadata={"fused_job": job_id, "fused_result": name},
            notes={"fused_metadata": urls[name + METADATA_SUFFIX]}
            if name + METADATA_SUFFIX in urls
            else {},
        )
        for name, url in sorted(urls.items())
        if not name.endswith(METADATA_SUFFIX)
    ]
