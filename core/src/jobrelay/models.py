"""The values jobrelay passes around: job specs, references, statuses, logs, artifacts.

Request models (``JobSpec``) are strict: an unknown field or a bad value is a
:class:`~jobrelay.errors.ConfigError` naming the field, raised before anything is sent.
Response models (``JobStatus``, ``LogPage``) are lenient: an unseen platform state is kept
as ``JobState.UNKNOWN`` with the raw value in ``platform_state``.
Every model is JSON-serializable (``model_dump(mode="json")``) so it can travel through
XCom, Prefect results and Dagster metadata unchanged.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobrelay._owners import Owner
from jobrelay._spans import JobSpans
from jobrelay.errors import ConfigError

__all__ = [
    "ArtifactRef",
    "JobRef",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobStatus",
    "LogLine",
    "LogPage",
    "QueueInfo",
    "QueueMode",
]


class JobState(StrEnum):
    """The unified state of a job on any platform (DESIGN §4)."""

    QUEUED = "QUEUED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        return self in _ACTIVE

    @property
    def is_success(self) -> bool:
        return self is JobState.SUCCEEDED

    @property
    def is_waiting(self) -> bool:
        """True while the job has not started running (the queue phase)."""
        return self in (JobState.QUEUED, JobState.STARTING)


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
_ACTIVE = frozenset({JobState.QUEUED, JobState.STARTING, JobState.RUNNING})


# Bounds every platform can store and pass on (a SQLite INTEGER, a process argument, an API
# field); a value beyond one is refused before anything is sent, not cut or overflowed.
MAX_PRIORITY = 1000  # -1000..1000; Anyscale's queue takes 1000 - priority
MAX_RETRIES = 1000
MAX_SECONDS = 1e9  # about 31 years: fits a 32-bit count of whole seconds
MAX_NAME = 200
MAX_QUEUE = 128
MAX_PATH = 4096  # PATH_MAX
MAX_COMMAND = 131072  # Linux's MAX_ARG_STRLEN: one argument or NAME=value string
MAX_ENV_NAME = 255
MAX_TAG_NAME = 128
MAX_TAG_VALUE = 1024
MAX_INPUT_NAME = 128
MAX_CONFIG = 1_000_000  # characters of config (or tags) as JSON
MAX_AMOUNT = 1e18  # a resource amount (bytes of memory included) that fits an int64
_INPUT_NAME = re.compile(rf"^[A-Za-z0-9_][A-Za-z0-9._-]{{0,{MAX_INPUT_NAME - 1}}}$")


def input_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a job input's name (it names a folder), or None."""
    if _INPUT_NAME.match(name):
        return None
    return (
        f"input name {name[:40]!r} must be 1..{MAX_INPUT_NAME} letters, digits, '.', '_' "
        "or '-', not starting with '.' or '-' (it names a folder)"
    )


def config_error_from(exc: ValidationError, model: str) -> ConfigError:
    """Turn pydantic's error into one ConfigError that names the first bad field."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or model
    message = str(first["msg"]).removeprefix("Value error, ")
    return ConfigError(f"{message} (in {model})", field=field)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error_from(exc, type(self).__name__) from None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class JobRef(_Lenient):
    """A handle to one submitted job: enough to find it again from another process.

    ``platform`` is the platform URL without secrets (``local:///home/me/.jobrelay``).
    ``reattached`` is true when ``submit`` found an existing job for the idempotency key.
    """

    platform: str
    id: str
    idempotency_key: str | None = None
    reattached: bool = False
    url: str | None = None

    def __str__(self) -> str:
        return f"{self.platform}#{self.id}"


class ArtifactRef(_Lenient):
    """One immutable artifact version, as a small JSON value.

    ``uri`` is canonical and round-trippable; ``digest`` is algorithm-prefixed
    (``sha256-4mib:…``, see :mod:`jobrelay.artifacts.digests`); ``producer`` is the job
    that made it, when a job did. ``file_name`` is the name the file or folder had when it
    was stored (``data.csv``): a job's local copy of an input keeps it, so loaders that
    choose a format by suffix work; None where the store did not record one.
    """

    uri: str
    name: str
    version: str
    digest: str
    size: int
    type: str = "file"
    producer: JobRef | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    file_name: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.name}:{self.version}"


class JobSpec(_Strict):
    """What to run and how. Validated on construction; bad input is a ``ConfigError``.

    ``entrypoint`` is a shell string (run through ``/bin/sh -c``) or an argv list.
    ``timeout_s`` limits each attempt on the platform; ``max_retries`` re-runs failed attempts.
    ``idempotency_key`` makes submission safe to repeat: an active or succeeded job with
    the same key is reattached instead of submitted again.
    ``owner`` (``str(jobrelay._owners.Owner)``) names the orchestrator's unit of work the
    job belongs to; the platform keeps it with the job and reports it in ``JobStatus.owner``,
    so a sweep can cancel jobs whose owner has ended (``jobrelay.integration.sweep``).

    >>> JobSpec(entrypoint="python train.py", queue="gpu", priority=5).queue
    'gpu'
    """

    entrypoint: str | list[str]
    name: str | None = Field(default=None, max_length=MAX_NAME)
    queue: str | None = Field(default=None, max_length=MAX_QUEUE)
    priority: int = 0
    env: dict[str, str] = Field(default_factory=dict)
    working_dir: str | None = Field(default=None, max_length=MAX_PATH)
    timeout_s: float | None = None
    max_retries: int = Field(default=0, ge=0, le=MAX_RETRIES)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, ArtifactRef | str] = Field(default_factory=dict)
    owner: str | None = None

    @field_validator("owner")
    @classmethod
    def _owner_text(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Owner.parse(value)
            except ValueError as exc:
                raise ValueError(
                    f"{exc}; an owner is written by jobrelay._owners.Owner (str(owner))"
                ) from None
        return value

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty; give a command such as 'python train.py'")
        if isinstance(value, list) and (not value or not value[0]):
            raise ValueError("argv list must not be empty; give e.g. ['python', 'train.py']")
        size = len(value) if isinstance(value, str) else sum(len(arg) + 1 for arg in value)
        if size > MAX_COMMAND:
            raise ValueError(
                f"is {size} characters, more than the {MAX_COMMAND} a process accepts; "
                "put a long script in a file and run the file"
            )
        return value

    @field_validator("priority")
    @classmethod
    def _priority_bounded(cls, value: int) -> int:
        if not -MAX_PRIORITY <= value <= MAX_PRIORITY:
            raise ValueError(
                f"must be within -{MAX_PRIORITY}..{MAX_PRIORITY} (higher runs first), got {value}"
            )
        return value

    @field_validator("timeout_s")
    @classmethod
    def _timeout_positive(cls, value: float | None) -> float | None:
        if value is not None and (value <= 0 or not math.isfinite(value)):
            raise ValueError(f"must be a positive number of seconds, got {value}")
        if value is not None and value > MAX_SECONDS:
            raise ValueError(f"must be at most {MAX_SECONDS:g} seconds, got {value:g}")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not key or "=" in key or "\0" in key or len(key) > MAX_ENV_NAME:
                raise ValueError(f"invalid environment variable name {key[:40]!r}")
            if "\0" in text:
                raise ValueError(f"the value of {key} holds a NUL character; remove it")
            if len(key) + len(text) + 1 > MAX_COMMAND:
                raise ValueError(
                    f"the value of {key} is longer than the {MAX_COMMAND} characters a process "
                    "accepts; pass a file instead"
                )
        return value

    @field_validator("tags")
    @classmethod
    def _tag_sizes(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not key or len(key) > MAX_TAG_NAME:
                raise ValueError(
                    f"a tag name must be 1..{MAX_TAG_NAME} characters, got {key[:40]!r}"
                )
            if len(text) > MAX_TAG_VALUE:
                raise ValueError(
                    f"the value of tag {key} is longer than {MAX_TAG_VALUE} characters"
                )
        return value

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, ArtifactRef | str]) -> dict[str, ArtifactRef | str]:
        for name in value:
            problem = input_name_problem(name)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("entrypoint", "name", "working_dir", "queue", "idempotency_key")
    @classmethod
    def _no_nul(cls, value: str | list[str] | None) -> str | list[str] | None:
        texts = value if isinstance(value, list) else [value] if value is not None else []
        if any("\0" in text for text in texts):
            raise ValueError("holds a NUL character, which no platform can pass on; remove it")
        return value

    @field_validator("queue")
    @classmethod
    def _queue_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave it out for the platform's default queue")
        return value

    @field_validator("config", "tags")
    @classmethod
    def _json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"must hold JSON values only (no NaN, infinity or objects): {exc}"
            ) from None
        except RecursionError:
            raise ValueError("is nested too deeply to send") from None
        if len(text) > MAX_CONFIG:
            raise ValueError(f"is {len(text)} characters as JSON, more than {MAX_CONFIG}")
        return value

    @field_validator("resources")
    @classmethod
    def _amounts(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            if not math.isfinite(amount) or amount < 0 or amount > MAX_AMOUNT:
                raise ValueError(
                    f"{name} must be a finite amount from 0 to {MAX_AMOUNT:g}, got {amount}"
                )
        return value

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        text = self.entrypoint if isinstance(self.entrypoint, str) else " ".join(self.entrypoint)
        return text if len(text) <= 40 else text[:37] + "..."


class JobStatus(_Lenient, JobSpans):
    """What the platform says about a job right now.

    ``name`` is the job's ``JobSpec.name`` where the platform keeps it (local, Ray), else
    None.
    """

    ref: JobRef
    name: str | None = None
    state: JobState
    platform_state: str
    message: str | None = None
    queue: str | None = None
    queue_position: int | None = None
    attempt: int = 1
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    url: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, ArtifactRef] = Field(default_factory=dict)
    owner: str | None = None


class JobResult(_Lenient):
    """A finished job: its final status and the artifacts it produced."""

    ref: JobRef
    status: JobStatus
    outputs: dict[str, ArtifactRef] = Field(default_factory=dict)

    @property
    def state(self) -> JobState:
        return self.status.state


class LogLine(_Lenient):
    """One line of a job's output, without its trailing newline."""

    text: str
    stream: Literal["stdout", "stderr", "system"] = "stdout"
    time: datetime | None = None


class LogPage(_Lenient):
    """A page of log lines and the cursor to read the next page from.

    ``cursor`` is opaque and serializable; passing it back never repeats or skips a line.
    ``done`` is true when the job is terminal and this page holds its last lines.
    """

    lines: list[LogLine]
    cursor: str
    done: bool = False


class QueueMode(StrEnum):
    """The order a queue hands out its jobs."""

    FIFO = "FIFO"
    LIFO = "LIFO"
    PRIORITY = "PRIORITY"


class QueueInfo(_Lenient):
    """A named queue and what is in it right now."""

    name: str
    max_concurrency: int
    mode: QueueMode
    queued: int = 0
    running: int = 0
