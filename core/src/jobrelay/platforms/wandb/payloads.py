"""Pure functions between jobrelay values and W&B payloads: launch specs, run ids, job ids,
state mapping (DESIGN §4, row "wandb") and artifact references. No I/O here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

from jobrelay.errors import ConfigError
from jobrelay.models import ArtifactRef, JobRef, JobSpec, JobState, JobStatus
from jobrelay.platforms.wandb.settings import (
    WandbTarget,
    check_queue_name,
    parse_artifact_path,
    parse_job_path,
)

__all__ = [
    "JobId",
    "artifact_ref",
    "build_launch_spec",
    "job_status",
    "log_offset",
    "map_state",
    "node_metadata",
    "parse_time",
    "push_variables",
    "run_id_for_key",
    "run_spec_field",
    "spec_run_id",
    "store_url",
    "wandb_priority",
]

_RUN_STATES: dict[str, JobState] = {
    "pending": JobState.STARTING,
    "running": JobState.RUNNING,
    "preempting": JobState.RUNNING,
    "finished": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "crashed": JobState.FAILED,
    "preempted": JobState.FAILED,
    "killed": JobState.CANCELLED,
}
_ITEM_STATES: dict[str, JobState] = {
    "PENDING": JobState.QUEUED,
    "LEASED": JobState.STARTING,
    "CLAIMED": JobState.STARTING,
    "FAILED": JobState.FAILED,
}
_RUN_MESSAGES = {
    "crashed": "the run crashed (it stopped sending heartbeats)",
    "preempted": "the run was preempted",
    "killed": "the run was stopped",
}
PRIORITY_NAMES = {"critical": 0, "high": 1, "medium": 2, "low": 3}
DELETED = "deleted"


@dataclass(frozen=True)
class JobId:
    """What ``JobRef.id`` holds for W&B: ``QUEUE:ITEM_ID:RUN_ID`` (W&B ids hold no ``:``)."""

    queue: str
    item_id: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.queue}:{self.item_id}:{self.run_id}"

    @classmethod
    def parse(cls, text: str) -> JobId:
        queue, sep1, rest = text.partition(":")
        item_id, sep2, run_id = rest.rpartition(":")
        # An item enqueued without a run id (the SDK's launch_add, Job.call) is QUEUE:ITEM:
        if not (sep1 and sep2 and queue and (run_id or item_id)):
            raise ConfigError(
                f"{text!r} is not a W&B job id (expected QUEUE:ITEM_ID:RUN_ID)", field="ref"
            )
        return cls(queue, item_id, run_id)


# W&B Launch keeps no tags: a job's owner travels in its launch spec, which the queue item
# keeps as given and every item listing returns (the agent reads only the fields it knows).
OWNER_FIELD = "jobrelay_owner"


def run_id_for_key(settings: WandbTarget, key: str | None) -> str:
    """A deterministic run id for an idempotency key, else a random 8-character one."""
    if key is None:
        alphabet = string.ascii_lowercase + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(8))
    scope = f"{settings.entity}/{settings.project}/{key}".encode()
    return "jr" + hashlib.sha256(scope).hexdigest()[:14]


# The JobSpec.config keys a W&B launch understands (the platform declares them).
LAUNCH_CONFIG_KEYS = frozenset(
    {
        "job",
        "docker_image",
        "run_config",
        "resource",
        "resource_args",
        "template_variables",
        "priority",
    }
)


def wandb_priority(spec: JobSpec) -> int | None:
    """W&B priority (0 critical … 3 low) from ``config["priority"]`` or ``spec.priority``.

    ``spec.priority`` is "higher runs sooner": 0 sends none (the queue default), 10 and up
    is critical, 5-9 high, 1-4 medium, below 0 low.
    """
    explicit = spec.config.get("priority")
    if explicit is not None:
        if isinstance(explicit, str) and explicit.lower() in PRIORITY_NAMES:
            return PRIORITY_NAMES[explicit.lower()]
        if isinstance(explicit, int) and not isinstance(explicit, bool) and 0 <= explicit <= 3:
            return explicit
        raise ConfigError(
            f"{explicit!r} is not a W&B priority; use critical, high, medium, low or 0-3",
            field="config.priority",
        )
    p = spec.priority
    if p == 0:
        return None
    return 0 if p >= 10 else 1 if p >= 5 else 2 if p > 0 else 3


def _input_paths(spec: JobSpec, settings: WandbTarget) -> dict[str, str]:
    out: dict[str, str] = {}
    base = store_url(settings)
    for name, value in spec.inputs.items():
        text = value.uri if isinstance(value, ArtifactRef) else value
        if "#" in text:
            where, _, reference = text.rpartition("#")
            if where != base:
                raise ConfigError(
                    f"lives in {where}, not in W&B project {base}; stage it into the W&B "
                    "artifact store first",
                    field=f"inputs.{name}",
                )
            text = reference
        try:
            entity, project, artifact, alias = parse_artifact_path(
                text, entity=settings.entity, project=settings.project
            )
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix("artifact: "), field=f"inputs.{name}") from None
        out[name] = f"{entity}/{project}/{artifact}:{alias}"
    return out


def build_launch_spec(spec: JobSpec, settings: WandbTarget, run_id: str) -> dict[str, Any]:
    """The launch spec (reference §3) for a jobrelay ``JobSpec``; ``ConfigError`` if invalid.

    ``config`` keys: ``job`` (``entity/project/name:alias``) or ``docker_image`` (else the
    URL's ``image=``), ``run_config``, ``resource``, ``resource_args``, ``template_variables``,
    ``priority``. The entrypoint becomes ``overrides.entry_point`` (a shell string runs
    through ``/bin/sh -c``); inputs become ``overrides.artifacts``.
    """
    job = spec.config.get("job")
    image = spec.config.get("docker_image") or (None if job else settings.docker_image)
    if bool(job) == bool(image):
        raise ConfigError(
            "give exactly one of config['job'] ('entity/project/name:alias') or "
            "config['docker_image'] (or image= in the platform URL)",
            field="config.job",
        )
    if spec.config.get("resource_args") and spec.config.get("template_variables"):
        raise ConfigError(
            "give resource_args or template_variables, not both (W&B drops resource_args)",
            field="config.resource_args",
        )
    run_config = spec.config.get("run_config", {})
    if not isinstance(run_config, dict):
        raise ConfigError("must be a mapping of config values", field="config.run_config")
    for key, kind in (("docker_image", str), ("resource", str), ("resource_args", dict)):
        value = spec.config.get(key)
        if value is not None and (not isinstance(value, kind) or not value):
            wanted = "a non-empty string" if kind is str else "a mapping"
            raise ConfigError(
                f"must be {wanted}, not {type(value).__name__}", field=f"config.{key}"
            )
    entry = (
        ["/bin/sh", "-c", spec.entrypoint]
        if isinstance(spec.entrypoint, str)
        else list(spec.entrypoint)
    )
    overrides: dict[str, Any] = {"run_config": run_config, "entry_point": entry, "args": []}
    artifacts = _input_paths(spec, settings)
    if artifacts:
        overrides["artifacts"] = artifacts
    launch: dict[str, Any] = {
        "entity": settings.entity,
        "project": settings.project,
        "run_id": run_id,
        "docker": {"docker_image": image} if image else {},
        "resource": spec.config.get("resource") or settings.resource,
        "overrides": overrides,
    }
    if job:
        launch["job"] = parse_job_path(job)
    if spec.config.get("resource_args"):
        launch["resource_args"] = spec.config["resource_args"]
    if spec.name:
        launch["name"] = spec.name
    if spec.working_dir:
        overrides["working_dir"] = spec.working_dir
    if spec.owner is not None:
        launch[OWNER_FIELD] = spec.owner
    return launch


def run_spec_field(run_spec: object, key: str) -> object:
    """One field of a launch spec (a queue item's ``runSpec``, JSON text or parsed); None
    when the spec is not a JSON object or has no such field. Never raises."""
    try:
        spec = json.loads(run_spec) if isinstance(run_spec, str) else run_spec
    except ValueError:
        return None
    return spec.get(key) if isinstance(spec, dict) else None


def owner_in_spec(run_spec: object) -> str | None:
    """The owner :func:`build_launch_spec` put in a launch spec, None when there is none."""
    owner = run_spec_field(run_spec, OWNER_FIELD)
    return owner if isinstance(owner, str) else None


def spec_run_id(run_spec: object) -> str | None:
    """The run id jobrelay chose and put in a launch spec; None for an item enqueued without
    one (by the SDK: its run is named by the item once an agent claims it)."""
    value = run_spec_field(run_spec, "run_id")
    return str(value) if value else None


def log_offset(cursor: str | None) -> int:
    """The byte offset a W&B log cursor holds (None or "" for the start); ``ConfigError``
    naming the cursor for anything but a whole number, 0 or more."""
    if cursor in (None, ""):
        return 0
    try:
        value = int(cursor)
    except ValueError:
        raise ConfigError(f"{cursor!r} is not a W&B log cursor", field="cursor") from None
    if value < 0:
        raise ConfigError(f"{cursor!r} is not a W&B log cursor", field="cursor")
    return value


def push_variables(spec: JobSpec, settings: WandbTarget, launch: dict[str, Any]) -> dict[str, Any]:
    """Variables of ``pushToRunQueueByName`` for a launch spec."""
    template = spec.config.get("template_variables")
    if template is not None and not isinstance(template, dict):
        raise ConfigError("must be a mapping", field="config.template_variables")
    return {
        "entityName": settings.queue_entity,
        "projectName": "model-registry",
        "queueName": check_queue_name(spec.queue or settings.queue),
        "runSpec": strict_json(launch, "config.run_config"),
        "priority": wandb_priority(spec),
        "templateVariableValues": (
            strict_json(template, "config.template_variables") if template is not None else None
        ),
    }


def strict_json(value: object, field: str) -> str:
    """``value`` as standard JSON; NaN, infinity or a non-JSON object is a ``ConfigError``."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"is not JSON ({exc}); use strings, numbers, booleans, lists and mappings", field=field
        ) from None


def parse_time(value: object) -> dt.datetime | None:
    """W&B's ``2026-01-01T00:00:00`` (UTC, with or without ``Z``) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def map_state(item: dict[str, Any] | None, run: dict[str, Any] | None) -> tuple[JobState, str]:
    """The unified state and the raw W&B state from a queue item and its run (either missing).

    A run decides once it exists; before that the item does; an item gone from its queue with
    no run was deleted, which is how W&B cancels a queued run.
    """
    if item is not None and item.get("state") == "FAILED":
        return JobState.FAILED, "FAILED"
    if run is not None:
        raw = str(run.get("state") or "")
        return _RUN_STATES.get(raw, JobState.UNKNOWN), raw
    if item is None:
        return JobState.CANCELLED, DELETED
    raw = str(item.get("state") or "")
    return _ITEM_STATES.get(raw, JobState.UNKNOWN), raw


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    raw = run.get("summaryMetrics")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw or {}
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if k != "_wandb"} if isinstance(data, dict) else {}


def store_url(settings: WandbTarget) -> str:
    """The canonical URL of the W&B artifact store of a project (no secrets)."""
    url = f"wandb://{settings.entity}/{settings.project}"
    from jobrelay.platforms.wandb.settings import DEFAULT_BASE_URL

    return url if settings.base_url == DEFAULT_BASE_URL else f"{url}?host={settings.base_url}"


def node_metadata(node: dict[str, Any]) -> dict[str, Any]:
    """An artifact node's metadata (JSON text on the wire) as a new dict; {} when it holds
    no JSON object."""
    try:
        data = json.loads(node.get("metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def artifact_ref(
    node: dict[str, Any], settings: WandbTarget, producer: JobRef | None
) -> ArtifactRef:
    """An ``ArtifactRef`` for an ``Artifact`` node (``uri`` = ``<store url>#name:vN``)."""
    sequence = node.get("artifactSequence") or {}
    project = sequence.get("project") or {}
    entity = (project.get("entity") or {}).get("name") or settings.entity
    project_name = project.get("name") or settings.project
    name = str(sequence.get("name"))
    version = f"v{node.get('versionIndex')}"
    where = settings.in_project(entity, project_name)
    metadata = node_metadata(node)
    metadata.pop("jobrelay.kind", None)  # what versions of an earlier jobrelay stored there
    return ArtifactRef(
        uri=f"{store_url(where)}#{name}:{version}",
        name=name,
        version=version,
        digest=f"manifest_md5:{node.get('digest')}",
        size=int(node.get("size") or 0),
        type=str((node.get("artifactType") or {}).get("name") or "file"),
        producer=producer,
        metadata={
            **metadata,
            "wandb.id": node.get("id"),
            "wandb.path": f"{entity}/{project_name}/{name}:{version}",
            "wandb.aliases": [a.get("alias") for a in node.get("aliases") or []],
        },
    )


def job_status(
    ref: JobRef,
    settings: WandbTarget,
    item: dict[str, Any] | None,
    run: dict[str, Any] | None,
    *,
    position: int | None = None,
) -> JobStatus:
    """A ``JobStatus`` from the item and run nodes of the batched status query."""
    job = JobId.parse(ref.id)
    run_id = job.run_id or (item or {}).get("associatedRunId")
    state, raw = map_state(item, run)
    message = None
    if state is JobState.FAILED and item is not None and item.get("state") == "FAILED":
        error = item.get("error") or {}
        message = error.get("message") or "the launch agent failed the queue item"
    elif run is not None:
        message = _RUN_MESSAGES.get(raw)
        if raw == "failed":
            message = "the run failed"
    elif raw == DELETED:
        message = "the item was removed from the run queue"
    outputs = {}
    if run is not None and state.is_terminal:
        for edge in (run.get("outputArtifacts") or {}).get("edges") or []:
            artifact = artifact_ref(edge["node"], settings, ref)
            outputs[artifact.name] = artifact
    terminal = state.is_terminal and run is not None
    return JobStatus(
        ref=ref,
        state=state,
        platform_state=raw,
        message=message,
        queue=job.queue,
        queue_position=position if state is JobState.QUEUED else None,
        submitted_at=parse_time((item or {}).get("createdAt")),
        started_at=parse_time((run or {}).get("createdAt")),
        ended_at=parse_time((run or {}).get("heartbeatAt")) if terminal else None,
        exit_code=(run or {}).get("exitcode"),
        url=settings.run_url(run_id) if run_id else None,
        metrics=_summary(run) if run else {},
        outputs=outputs,
    )
