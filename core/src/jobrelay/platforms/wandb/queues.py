"""Run-queue administration (reference §5): create, upsert, list, items, delete an item.

All queues live in the project ``model-registry`` of the owning entity. W&B queues hand out
items FIFO, or by priority with ``prioritizationMode: V0``; how many run at once is the launch
agent's ``max_jobs``, not the queue's, so ``QueueInfo.max_concurrency`` is 0 ("set by the
agent").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jobrelay.errors import ConfigError, ConflictError, NotFoundError
from jobrelay.models import QueueInfo, QueueMode
from jobrelay.platforms.wandb import operations as ops
from jobrelay.platforms.wandb.payloads import spec_run_id
from jobrelay.platforms.wandb.settings import LAUNCH_PROJECT, check_queue_name
from jobrelay.platforms.wandb.transport import WandbTransport

__all__ = [
    "RESOURCE_TYPES",
    "QueueItem",
    "create_queue",
    "delete_item",
    "list_items",
    "list_queues",
    "project_queues",
    "upsert_queue",
]

RESOURCE_TYPES = frozenset(
    {"local-container", "local-process", "kubernetes", "sagemaker", "gcp-vertex"}
)
DEFAULT_RESOURCE = "local-container"


@dataclass(frozen=True)
class QueueItem:
    """One item of a run queue as W&B lists it."""

    id: str
    state: str
    run_id: str | None
    associated_run_id: str | None
    created_at: str | None


def _mode(mode: QueueMode) -> str:
    if mode is QueueMode.FIFO:
        return "DISABLED"
    if mode is QueueMode.PRIORITY:
        return "V0"
    raise ConfigError(
        "W&B run queues are FIFO or PRIORITY (prioritizationMode V0), not LIFO", field="mode"
    )


def _info(queue: dict[str, Any]) -> QueueInfo:
    states = [
        (e.get("node") or {}).get("state")
        for e in (queue.get("runQueueItems") or {}).get("edges") or []
    ]
    return QueueInfo(
        name=queue["name"],
        max_concurrency=0,
        mode=QueueMode.PRIORITY if queue.get("prioritizationMode") == "V0" else QueueMode.FIFO,
        queued=states.count("PENDING"),
        running=states.count("LEASED"),
    )


async def project_queues(api: WandbTransport) -> list[dict[str, Any]]:
    """The run queues of the target's queue entity, each with its first 100 items and their
    launch specs (``ProjectRunQueues``)."""
    data = await api.execute(
        ops.PROJECT_RUN_QUEUES,
        {"entity": api.settings.queue_entity, "projectName": LAUNCH_PROJECT},
        operation="ProjectRunQueues",
    )
    return list((data.get("project") or {}).get("runQueues") or [])


async def list_queues(api: WandbTransport) -> list[QueueInfo]:
    """Every run queue of the entity, with its PENDING (queued) and LEASED (starting) counts."""
    return [_info(q) for q in await project_queues(api)]


async def _find(api: WandbTransport, name: str) -> dict[str, Any] | None:
    return next((q for q in await project_queues(api) if q["name"] == name), None)


async def create_queue(
    api: WandbTransport,
    name: str,
    *,
    max_concurrency: int = 1,
    mode: QueueMode = QueueMode.FIFO,
    exist_ok: bool = True,
    resource: str | None = None,
    config: dict[str, Any] | None = None,
    template_variables: dict[str, Any] | None = None,
) -> QueueInfo:
    """The documented three steps: ``upsertModel`` (the ``model-registry`` project),
    ``createDefaultResourceConfig``, ``createRunQueue`` with ``access: PROJECT``.

    An existing queue is returned unchanged with ``exist_ok``, else ``ConflictError``.
    """
    check_queue_name(name)
    prioritization = _mode(mode)
    if max_concurrency != 1:
        raise ConfigError(
            "W&B run queues have no concurrency limit; set max_jobs on the launch agent",
            field="max_concurrency",
        )
    resource = resource or api.settings.resource or DEFAULT_RESOURCE
    if resource not in RESOURCE_TYPES:
        raise ConfigError(
            f"unknown resource {resource!r}; use one of {', '.join(sorted(RESOURCE_TYPES))}",
            field="resource",
        )
    existing = await _find(api, name)
    if existing is not None:
        if not exist_ok:
            raise ConflictError(
                f"W&B run queue {name!r} already exists", operation="CreateRunQueue"
            )
        return _info(existing)
    await api.execute(
        ops.CREATE_PROJECT,
        {"name": LAUNCH_PROJECT, "entityName": api.settings.queue_entity},
        operation="CreateProject",
    )
    created = await api.execute(
        ops.CREATE_DEFAULT_RESOURCE_CONFIG,
        {
            "entityName": api.settings.queue_entity,
            "resource": resource,
            "config": json.dumps({"resource_args": {resource: config or {}}}),
            "templateVariables": json.dumps(template_variables or {}),
        },
        operation="CreateDefaultResourceConfig",
    )
    config_id = (created.get("createDefaultResourceConfig") or {}).get("defaultResourceConfigID")
    result = await api.execute(
        ops.CREATE_RUN_QUEUE,
        {
            "entity": api.settings.queue_entity,
            "project": LAUNCH_PROJECT,
            "queueName": name,
            "access": "PROJECT",
            "prioritizationMode": prioritization,
            "defaultResourceConfigID": config_id,
        },
        operation="CreateRunQueue",
        idempotent=False,
    )
    if not (result.get("createRunQueue") or {}).get("success"):
        raise ConflictError(f"W&B did not create run queue {name!r}", operation="CreateRunQueue")
    return QueueInfo(name=name, max_concurrency=0, mode=mode)


async def upsert_queue(
    api: WandbTransport,
    name: str,
    *,
    resource: str = DEFAULT_RESOURCE,
    config: dict[str, Any] | None = None,
    template_variables: dict[str, Any] | None = None,
    mode: QueueMode = QueueMode.FIFO,
    external_links: dict[str, str] | None = None,
) -> QueueInfo:
    """``upsertRunQueue``: create the queue or replace its resource config."""
    check_queue_name(name)
    if resource not in RESOURCE_TYPES:
        raise ConfigError(f"unknown resource {resource!r}", field="resource")
    links = None
    if external_links is not None:
        links = json.dumps({"links": [{"label": k, "url": v} for k, v in external_links.items()]})
    result = await api.execute(
        ops.UPSERT_RUN_QUEUE,
        {
            "entityName": api.settings.queue_entity,
            "projectName": LAUNCH_PROJECT,
            "queueName": name,
            "resourceType": resource,
            "resourceConfig": json.dumps(config or {}),
            "templateVariables": json.dumps(template_variables or {}),
            "prioritizationMode": _mode(mode),
            "externalLinks": links,
        },
        operation="UpsertRunQueue",
    )
    payload = result.get("upsertRunQueue") or {}
    if not payload.get("success"):
        errors = payload.get("configSchemaValidationErrors") or []
        raise ConfigError(
            f"W&B refused the config of queue {name!r}: {'; '.join(errors) or 'no reason given'}",
            field="config",
        )
    found = await _find(api, name)
    return _info(found) if found else QueueInfo(name=name, max_concurrency=0, mode=mode)


async def _run_queue(
    api: WandbTransport, queue: str, document: str, operation: str, name_variable: str
) -> dict[str, Any]:
    """One run queue as ``document`` selects it; ``NotFoundError`` naming it if there is none."""
    entity = api.settings.queue_entity
    data = await api.execute(
        document,
        {"projectName": LAUNCH_PROJECT, "entityName": entity, name_variable: queue},
        operation=operation,
    )
    found: dict[str, Any] | None = (data.get("project") or {}).get("runQueue")
    if found is None:
        raise NotFoundError(
            f"W&B run queue {queue!r} not found in {entity}/{LAUNCH_PROJECT}", operation=operation
        )
    return found


async def list_items(api: WandbTransport, queue: str) -> list[QueueItem]:
    """The first 100 items of ``queue``; ``NotFoundError`` naming it if it does not exist."""
    found = await _run_queue(api, queue, ops.GET_RUN_QUEUE_ITEMS, "GetRunQueueItems", "runQueue")
    items = []
    for edge in (found.get("runQueueItems") or {}).get("edges") or []:
        node = edge.get("node") or {}
        items.append(
            QueueItem(
                id=str(node["id"]),
                state=str(node.get("state")),
                run_id=spec_run_id(node.get("runSpec")),
                associated_run_id=node.get("associatedRunId"),
                created_at=node.get("createdAt"),
            )
        )
    return items


async def delete_item(api: WandbTransport, queue: str, item_id: str) -> None:
    """``fetchRunQueuesFromProject`` then ``deleteFromRunQueue``; a clear error if missing."""
    found = await _run_queue(
        api, queue, ops.FETCH_RUN_QUEUE_ID, "fetchRunQueuesFromProject", "runQueueName"
    )
    await api.execute(
        ops.DELETE_FROM_RUN_QUEUE,
        {"queueID": found["id"], "runQueueItemId": item_id},
        operation="DeleteFromRunQueue",
    )
