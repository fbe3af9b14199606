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
from urllib.parse import quote

from jobrelay.errors import ConfigError
from jobrelay.models import JobRef, JobSpec, JobState, JobStatus, LogLine
from jobrelay.platforms._cursors import read_cursor, write_cursor

__all__ = [
    "CHUNKS_PER_READ",
    "CONFIG_KEYS",
    "JOB_LIST_MAX",
    "KEY_TAG",
    "ChunkDownload",
    "ChunkListing",
    "LogCursor",
    "LogWalk",
    "Lookup",
    "Names",
    "Resolved",
    "build_create_body",
    "check_spec",
    "chunk_lines",
    "compute_search_body",
    "decode_chunk",
    "exit_code_of",
    "job_list_params",
    "looked_up",
    "map_state",
    "next_lookup",
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


# -- names to ids -----------------------------------------------------------------------

DEFAULT_IMAGE = {"python_version": "py311", "ray_version": "2.59.0"}
# What an id looks like for each name: given one, no lookup is made.
_ID_PREFIXES = {"cloud": "cld_", "compute": "cpt_", "project": "prj_", "image": "bld_"}


@dataclass(frozen=True)
class Names:
    """What a job names (its config, else the settings): a name or id each, None for the
    organization's default."""

    cloud: str | None = None
    compute: str | None = None
    project: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class Resolved:
    """The ids a create needs."""

    cloud_id: str
    project_id: str
    build_id: str
    compute_config_id: str


@dataclass(frozen=True)
class Lookup:
    """One request of a name resolution: send it, then give its answer to :func:`looked_up`.

    ``gives`` is which id the answer tells (``cloud``, ``compute``, ``project``, ``image``)
    and ``at`` where in the answer; ``searched`` is the name a search looks for (its answer
    lists matches, and none is a ``ConfigError``), None when the answer is one object.
    """

    gives: str
    method: str
    path: str
    operation: str
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    searched: str | None = None
    at: tuple[str, ...] = ("result", "id")


def next_lookup(names: Names, known: Mapping[str, str]) -> Lookup | Resolved:
    """The next request that resolving ``names`` needs, given the ids ``known`` so far, or
    the ids once nothing is missing.

    The order is the official SDK's: the cloud (by name, or from a named compute config,
    or the default), the compute config (by ``name[:version]`` in that cloud, or the cloud's
    default), the project (by name in the cloud, or the cloud's default), the image's build
    (of an image URI, or the default). A name that is already an id costs no request.
    """
    ids = dict(known)
    for key, prefix in _ID_PREFIXES.items():
        given = getattr(names, key)
        if key not in ids and given is not None and given.startswith(prefix):
            ids[key] = given
    if "cloud" not in ids and names.cloud is not None:
        return Lookup(
            "cloud",
            "POST",
            "/api/v2/clouds/find_by_name",
            f"find Anyscale cloud {names.cloud!r}",
            body={"name": names.cloud},
        )
    if names.compute is not None:
        if "compute" not in ids:
            return Lookup(
                "compute",
                "POST",
                "/api/v2/compute_templates/search",
                f"find compute config {names.compute!r}",
                body=compute_search_body(names.compute, ids.get("cloud")),
                searched=names.compute,
            )
        if "cloud" not in ids:
            return Lookup(
                "cloud",
                "GET",
                f"/ext/v0/cluster_computes/{quote(ids['compute'])}",
                "get compute config",
                at=("result", "config", "cloud_id"),
            )
    else:
        if "cloud" not in ids:
            return Lookup("cloud", "GET", "/ext/v0/clouds/default", "default cloud")
        if "compute" not in ids:
            return Lookup(
                "compute",
                "GET",
                "/ext/v0/cluster_computes/default",
                "default compute config",
                params={"cloud_id": ids["cloud"]},
            )
    if "project" not in ids:
        if names.project is None:
            return Lookup(
                "project",
                "GET",
                "/ext/v0/projects/default_project",
                "default project",
                params={"parent_cloud_id": ids["cloud"]},
            )
        return Lookup(
            "project",
            "POST",
            "/ext/v0/projects/search",
            f"find Anyscale project {names.project!r}",
            body={"name": {"equals": names.project}, "parent_cloud_id": {"equals": ids["cloud"]}},
            searched=names.project,
        )
    if "image" not in ids:
        if names.image is None:
            return Lookup(
                "image",
                "GET",
                "/ext/v0/cluster_environment_builds/default",
                "default image",
                params=DEFAULT_IMAGE,
            )
        return Lookup(
            "image",
            "POST",
            "/api/v2/builds/get_or_create_build_from_image_uri",
            f"get build of image {names.image!r}",
            body={"image_uri": names.image},
        )
    return Resolved(ids["cloud"], ids["project"], ids["image"], ids["compute"])


_SEARCHED_FIELD = {"compute": "compute_config", "project": "project"}
_SEARCHED_WHAT = {"compute": "compute config", "project": "project"}


def looked_up(lookup: Lookup, answer: Mapping[str, Any]) -> str:
    """The id ``answer`` (the JSON of ``lookup``'s response) gives.

    A search with no match is a ``ConfigError`` on the option that named it; an answer
    without the id raises ``KeyError``/``TypeError`` (the API changed: not a user's error).
    """
    if lookup.searched is not None:
        found = answer.get("results")
        if not found:
            raise ConfigError(
                f"Anyscale has no {_SEARCHED_WHAT[lookup.gives]} named {lookup.searched!r}",
                field=_SEARCHED_FIELD[lookup.gives],
            )
        return str(found[0]["id"])
    value: Any = answer
    for key in lookup.at:
        value = value[key]
    return str(value)


# -- the log walk -----------------------------------------------------------------------

CHUNKS_PER_READ = 200  # chunk downloads one log read makes at most
RUN_FINISHED = frozenset({"COMPLETED", "SUCCEEDED", "STOPPED", "FAILED"})


@dataclass(frozen=True)
class ChunkListing:
    """Fetch the chunk listing of run ``run_id`` at ``page`` (None: the first page)."""

    run_id: str
    page: str | None


@dataclass(frozen=True)
class ChunkDownload:
    """Download the chunk at ``url``, with the listing's ``bearer`` token when it gave one."""

    url: str
    bearer: str | None


class LogWalk:
    """One log read's walk over the job's runs, their chunk listings and the chunks, without
    I/O: :meth:`next` says what to fetch, :meth:`listed` and :meth:`downloaded` take what
    was fetched, and once :meth:`next` says None, ``lines``, ``cursor`` and ``done`` are the
    page.

    ``runs`` are the job's runs oldest first; ``terminal`` whether the job had ended when
    they were read (then every listed chunk is complete). A run's last chunk is complete
    only when the run is finished or a later run exists: until then its unfinished last
    line is held back, and the cursor stays on that chunk. At most ``limit`` chunks are
    downloaded; the cursor says where the next read goes on.
    """

    def __init__(
        self,
        runs: Sequence[Mapping[str, Any]],
        cursor: LogCursor,
        *,
        terminal: bool,
        limit: int = CHUNKS_PER_READ,
    ) -> None:
        self.lines: list[LogLine] = []
        self.cursor = cursor
        self.done = terminal and not runs
        self._runs = runs
        self._terminal = terminal
        self._limit = limit
        self._downloads = 0
        self._over = False
        # The listing being read: its chunks, bearer token and next page, and the index of
        # the chunk to download next.
        self._chunks: Sequence[Mapping[str, Any]] | None = None
        self._bearer: str | None = None
        self._following: str | None = None
        self._index = 0

    def _run_done(self) -> bool:
        at = self.cursor.run
        return (
            self._terminal
            or at < len(self._runs) - 1
            or self._runs[at].get("status") in RUN_FINISHED
        )

    def next(self) -> ChunkListing | ChunkDownload | None:
        """What to fetch next; None when the page is complete."""
        while not self._over:
            at = self.cursor
            if self._chunks is None:
                if at.run >= len(self._runs) or self._downloads >= self._limit:
                    self._over = True
                    break
                return ChunkListing(str(self._runs[at.run]["id"]), at.page)
            if self._index < len(self._chunks):
                return ChunkDownload(str(self._chunks[self._index]["chunk_url"]), self._bearer)
            # This listing is read to its end: on to its next page, the next run, or stop.
            self._chunks = None
            if self._following:
                self.cursor = LogCursor(at.run, self._following, 0, 0)
            elif at.run < len(self._runs) - 1:  # a later run exists: this one is over
                self.cursor = LogCursor(at.run + 1, None, 0, 0)
            else:
                self.done = self._terminal
                self._over = True
        return None

    def listed(self, page: Mapping[str, Any]) -> None:
        """The answer to the :class:`ChunkListing` :meth:`next` asked for."""
        self._chunks = page.get("log_chunks") or []
        self._bearer = page.get("bearer_token")
        self._following = str(page["next_page_token"]) if page.get("next_page_token") else None
        self._index = self.cursor.chunk

    def downloaded(self, text: str) -> None:
        """The text (:func:`decode_chunk`) of the :class:`ChunkDownload` :meth:`next` asked
        for."""
        if self._chunks is None:
            raise RuntimeError("downloaded() answers a ChunkDownload of next()")
        at, index = self.cursor, self._index
        last = index == len(self._chunks) - 1 and not self._following
        closed = not last or self._run_done()
        self._downloads += 1
        skip = at.lines if index == at.chunk else 0
        new, read = chunk_lines(text, skip=skip, final=closed)
        self.lines.extend(new)
        if not closed:  # the run's open last chunk: read again from this line next time
            self.cursor = LogCursor(at.run, at.page, index, read)
            self._over = True
            return
        self.cursor = LogCursor(at.run, at.page, index + 1, 0)
        self._index = index + 1
        if self._downloads >= self._limit:
            self._over = True
