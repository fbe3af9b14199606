"""``WandbPlatform``: W&B Launch run queues and runs behind the jobrelay ``Platform`` contract.

A job is a queue item pushed with ``pushToRunQueueByName`` whose launch spec carries a run id
jobrelay chose (deterministic for an idempotency key), so the run can be found before and
after the agent acks it. Status asks one GraphQL query per tick for every waited job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobrelay.errors import ConfigError, NotFoundError
from jobrelay.models import JobRef, JobSpec, JobStatus, LogLine, LogPage, QueueInfo, QueueMode
from jobrelay.platforms.base import Capabilities
from jobrelay.platforms.wandb import operations as ops
from jobrelay.platforms.wandb import queues
from jobrelay.platforms.wandb.artifacts import WandbArtifactStore, find_version
from jobrelay.platforms.wandb.payloads import (
    LAUNCH_CONFIG_KEYS,
    JobId,
    build_launch_spec,
    job_status,
    log_offset,
    owner_in_spec,
    push_variables,
    run_id_for_key,
    spec_run_id,
)
from jobrelay.platforms.wandb.settings import LAUNCH_PROJECT, parse_artifact_path
from jobrelay.platforms.wandb.transport import WandbTransport
from jobrelay.waiting import PollPolicy

__all__ = ["WandbPlatform"]

LOG_PAGE_BYTES = 1 << 20
_ALIVE = frozenset({"pending", "running", "preempting"})


class WandbPlatform:
    """The ``wandb`` platform. Open it with ``open_platform("wandb://ENTITY/PROJECT?queue=Q")``."""

    name = "wandb"
    capabilities = Capabilities(
        queues=True,
        priority=True,
        env=False,
        working_dir=False,
        owners=True,  # in the launch spec (W&B Launch keeps no tags)
        config_keys=LAUNCH_CONFIG_KEYS,
        hints={
            "env": "a W&B launch spec carries no environment variables; set them in the job "
            "or the queue's resource config",
            "working_dir": "W&B Launch runs a job or an image, not a folder; build the code "
            "into the image or log it as a job",
            "timeout_s": "W&B Launch has no run time limit; use wait(run_timeout=...)",
            "max_retries": "W&B Launch does not retry runs; use max_retries=0",
            "resources": "set them in the queue's resource config or config['resource_args']",
            "tags": "W&B Launch takes no run tags in a launch spec; put them in "
            "config['run_config']",
        },
        batch_status=True,
        cancel_queued=True,
        native_artifacts=True,
        poll=PollPolicy(initial_s=1.0, max_s=10.0),
    )

    def __init__(self, api: WandbTransport) -> None:
        """The platform ``api.settings`` names, talking through ``api``, which it owns:
        :meth:`aclose` closes it (once), and its artifact store shares it."""
        self.api = api
        self.settings = api.settings
        self.url = api.settings.platform_url
        self._store: WandbArtifactStore | None = None

    def artifact_store(self) -> WandbArtifactStore:
        """The project's artifact store: where this platform's jobs read inputs from.

        It sends through the platform's transport (no second connection pool); closing it
        leaves the platform open, and closing the platform ends both."""
        if self._store is None:
            self._store = WandbArtifactStore(self.api, owns_api=False)
        return self._store

    def __repr__(self) -> str:
        return f"WandbPlatform({self.url!r})"

    def check_spec(self, spec: JobSpec) -> None:
        """What only W&B refuses: the launch spec must build (job or image, run_config...).

        Inputs held in another store are left out: the client stages them into this
        project before the submit (:class:`jobrelay._handoff.NativeHandoff`).
        """
        own = f"{self.artifact_store().url}#"
        inputs = {
            name: item
            for name, item in spec.inputs.items()
            if "#" not in (uri := item if isinstance(item, str) else item.uri)
            or uri.startswith(own)
        }
        spec = spec.model_copy(update={"inputs": inputs})
        launch = build_launch_spec(spec, self.settings, run_id_for_key(self.settings, None))
        push_variables(spec, self.settings, launch)

    # -- submitting ----------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> JobRef:
        """Push the job to its run queue; raises the server's error, never falls back."""
        run_id = run_id_for_key(self.settings, spec.idempotency_key)
        launch = build_launch_spec(spec, self.settings, run_id)
        variables = push_variables(spec, self.settings, launch)
        if "job" in launch:
            await self._check_job_exists(launch["job"])
        data = await self.api.execute(
            ops.PUSH_TO_RUN_QUEUE_BY_NAME,
            variables,
            operation="pushToRunQueueByName",
            idempotent=spec.idempotency_key is not None,
        )
        pushed = data.get("pushToRunQueueByName")
        if not pushed or not pushed.get("runQueueItemId"):
            raise NotFoundError(
                f"W&B pushToRunQueueByName returned no item for queue "
                f"{variables['queueName']!r} of {self.settings.queue_entity}",
                operation="pushToRunQueueByName",
            )
        job = JobId(variables["queueName"], str(pushed["runQueueItemId"]), run_id)
        return JobRef(
            platform=self.url,
            id=str(job),
            idempotency_key=spec.idempotency_key,
            url=self.settings.run_url(run_id),
        )

    async def _check_job_exists(self, job: str) -> None:
        entity, project, name, alias = parse_artifact_path(
            job, entity=self.settings.entity, project=self.settings.project
        )
        node = await find_version(self.api, entity, project, name, alias)
        if node is None:
            raise NotFoundError(
                f"W&B job {job!r} not found; log the job artifact first or fix the path",
                operation="ArtifactMembershipByName",
            )
        kind = (node.get("artifactType") or {}).get("name")
        if kind != "job":
            raise ConfigError(f"{job!r} is a {kind!r} artifact, not a job", field="job")

    async def find(self, idempotency_key: str) -> JobRef | None:
        """The item (or run) whose launch spec carries this key's run id, in any queue."""
        run_id = run_id_for_key(self.settings, idempotency_key)
        for queue in await self._project_queues():
            for edge in (queue.get("runQueueItems") or {}).get("edges") or []:
                node = edge.get("node") or {}
                if spec_run_id(node.get("runSpec")) == run_id:
                    return self._ref(JobId(queue["name"], str(node["id"]), run_id), idempotency_key)
        run = (await self._query_jobs([JobId(self.settings.queue, "", run_id)]))[1]
        if run.get(run_id) is not None:
            return self._ref(JobId(self.settings.queue, "", run_id), idempotency_key)
        return None

    def _ref(self, job: JobId, key: str | None) -> JobRef:
        return JobRef(
            platform=self.url,
            id=str(job),
            idempotency_key=key,
            url=self.settings.run_url(job.run_id) if job.run_id else None,
        )

    async def _project_queues(self) -> list[dict[str, Any]]:
        return await queues.project_queues(self.api)

    # -- observing -----------------------------------------------------------------------

    async def status(self, ref: JobRef) -> JobStatus:
        found = await self.statuses([ref])
        if ref.id not in found:
            raise NotFoundError(f"W&B job {ref.id} not found")
        return found[ref.id]

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """Every ref's status from ONE GraphQL request (aliased items and runs)."""
        jobs = {ref.id: JobId.parse(ref.id) for ref in refs}
        if not jobs:
            return {}
        items, runs, positions = await self._query_jobs(list(jobs.values()), with_positions=True)
        # Items enqueued without a run id (by the SDK): their run is named by the item.
        associated = {
            ref_id: str(items[job.item_id]["associatedRunId"])
            for ref_id, job in jobs.items()
            if not job.run_id and (items.get(job.item_id) or {}).get("associatedRunId")
        }
        if associated:
            wanted = [JobId(jobs[r].queue, "", run_id) for r, run_id in associated.items()]
            runs.update((await self._query_jobs(wanted))[1])
        return {
            ref.id: job_status(
                ref,
                self.settings,
                items.get(jobs[ref.id].item_id),
                runs.get(jobs[ref.id].run_id or associated.get(ref.id, "")),
                position=positions.get(jobs[ref.id].item_id),
            )
            for ref in refs
        }

    async def _with_run(self, job: JobId) -> JobId:
        """``job`` with its run id: an SDK-enqueued item's comes from the item, once claimed."""
        if job.run_id:
            return job
        items = (await self._query_jobs([job]))[0]
        run_id = (items.get(job.item_id) or {}).get("associatedRunId")
        return JobId(job.queue, job.item_id, str(run_id)) if run_id else job

    async def _query_jobs(
        self, jobs: list[JobId], *, with_positions: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
        """Items by id, runs by name and queue positions of PENDING items, in one request."""
        queue_names = sorted({j.queue for j in jobs if j.item_id})
        variables: dict[str, Any] = {"e": self.settings.entity, "p": self.settings.project}
        if queue_names:
            variables.update(qe=self.settings.queue_entity, qp=LAUNCH_PROJECT)
        per_queue: list[list[int]] = []
        item_alias: dict[str, str] = {}
        for qi, queue in enumerate(queue_names):
            variables[f"q{qi}"] = queue
            numbers = []
            for n, job in enumerate(jobs):
                if job.item_id and job.queue == queue and job.item_id not in item_alias.values():
                    variables[f"i{n}"] = job.item_id
                    item_alias[f"i{n}"] = job.item_id
                    numbers.append(n)
            per_queue.append(numbers)
        run_names = sorted({j.run_id for j in jobs if j.run_id})
        for n, name in enumerate(run_names):
            variables[f"r{n}"] = name
        data = await self.api.execute(
            ops.status_document(per_queue, len(run_names)), variables, operation="JobStatuses"
        )
        items: dict[str, Any] = {}
        positions: dict[str, int] = {}
        for qi in range(len(queue_names)):
            found: dict[str, Any] | None = (data.get(f"q{qi}") or {}).get("runQueue")
            if found is None:
                continue
            pending = [
                e["node"]["id"]
                for e in (found.get("runQueueItems") or {}).get("edges") or []
                if e["node"]["state"] == "PENDING"
            ]
            positions.update({item_id: i + 1 for i, item_id in enumerate(pending)})
            for alias, item_id in item_alias.items():
                if found.get(alias) is not None:
                    items[item_id] = {**found[alias], "queueID": found.get("id")}
        run_block = data.get("runs") or {}
        runs = {name: run_block.get(f"r{n}") for n, name in enumerate(run_names)}
        return items, {k: v for k, v in runs.items() if v is not None}, positions

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The newest items of this entity's run queues (or of ``queue``), as statuses."""
        refs: list[tuple[str, JobRef]] = []
        owners: dict[str, str] = {}
        for q in await self._project_queues():
            if queue is not None and q["name"] != queue:
                continue
            for edge in (q.get("runQueueItems") or {}).get("edges") or []:
                node = edge.get("node") or {}
                # An item the SDK enqueued without a run id is QUEUE:ITEM: (its run comes
                # from the item once an agent claims it).
                run_id = spec_run_id(node.get("runSpec")) or ""
                job = JobId(q["name"], str(node["id"]), run_id)
                refs.append((str(node.get("createdAt") or ""), self._ref(job, None)))
                owner = owner_in_spec(node.get("runSpec"))
                if owner is not None:
                    owners[str(job)] = owner
        refs.sort(key=lambda pair: pair[0], reverse=True)
        chosen = [ref for _, ref in refs[:limit]]
        found = await self.statuses(chosen)
        return [
            found[ref.id].model_copy(update={"owner": owners.get(ref.id)})
            for ref in chosen
            if ref.id in found
        ]

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        """Lines of the run's ``output.log`` after the byte offset ``cursor``.

        The run's state comes with its file listing; ``terminal`` is only needed (and then
        saves a status read) before the run exists."""
        job = await self._with_run(JobId.parse(ref.id))
        offset = log_offset(cursor)
        run = await self._log_file(job)
        if run is None:
            if terminal is None:
                terminal = (await self.status(ref)).state.is_terminal
            if not terminal:
                return LogPage(lines=[], cursor=str(offset), done=False)
            # Over, as of now: but the run may have been made (and ended) since the log was
            # asked for, so ask again. Only a job that ended without a run has no log.
            run = await self._log_file(job)
            if run is None:
                return LogPage(lines=[], cursor=str(offset), done=True)
        terminal = str(run.get("state")) not in _ALIVE
        edges = (run.get("files") or {}).get("edges") or []
        node = edges[0]["node"] if edges and edges[0].get("node") else None
        size = int(node.get("sizeBytes") or 0) if node else 0
        if node is None or offset >= size:
            return LogPage(lines=[], cursor=str(offset), done=terminal)
        response = await self.api.download(node["directUrl"], start=offset)
        body = response.content if response.status_code != 416 else b""
        if response.status_code == 200:  # the server ignored Range: skip what we have read
            body = body[offset:]
        body = body[:LOG_PAGE_BYTES]
        end = len(body) if terminal and offset + len(body) >= size else body.rfind(b"\n") + 1
        chunk = body[:end]
        lines = [LogLine(text=t) for t in chunk.decode("utf-8", "replace").splitlines()]
        new_offset = offset + len(chunk)
        return LogPage(lines=lines, cursor=str(new_offset), done=terminal and new_offset >= size)

    async def _log_file(self, job: JobId) -> dict[str, Any] | None:
        """The run with its ``output.log`` file node, or None before the run exists."""
        job = await self._with_run(job)
        if not job.run_id:
            return None
        data = await self.api.execute(
            ops.RUN_LOG_FILE,
            {"project": self.settings.project, "entity": self.settings.entity, "name": job.run_id},
            operation="RunLogFile",
        )
        run: dict[str, Any] | None = (data.get("project") or {}).get("run")
        return run

    # -- cancelling ----------------------------------------------------------------------

    async def cancel(self, ref: JobRef) -> None:
        """Delete a queued item from its queue, or stop a live run. Idempotent."""
        job = await self._with_run(JobId.parse(ref.id))
        items, runs, _ = await self._query_jobs([job])
        run = runs.get(job.run_id)
        if run is not None:
            if run.get("state") in _ALIVE:
                await self.api.execute(ops.STOP_RUN, {"id": run["id"]}, operation="StopRun")
            return
        item = items.get(job.item_id)
        if item is None or item.get("state") == "FAILED":
            return
        try:
            await self.api.execute(
                ops.DELETE_FROM_RUN_QUEUE,
                {"queueID": item["queueID"], "runQueueItemId": job.item_id},
                operation="DeleteFromRunQueue",
            )
        except NotFoundError:
            return  # already gone: cancelled by someone else
        # The agent may have created the run while we deleted the item: stop it too.
        if not job.run_id:
            return
        runs = (await self._query_jobs([JobId(job.queue, "", job.run_id)]))[1]
        run = runs.get(job.run_id)
        if run is not None and run.get("state") in _ALIVE:
            await self.api.execute(ops.STOP_RUN, {"id": run["id"]}, operation="StopRun")

    # -- queues (QueueAdmin) -------------------------------------------------------------

    async def create_queue(
        self,
        name: str,
        *,
        max_concurrency: int = 1,
        mode: QueueMode = QueueMode.FIFO,
        exist_ok: bool = True,
    ) -> QueueInfo:
        """Create a run queue (CreateProject, CreateDefaultResourceConfig, CreateRunQueue)."""
        return await queues.create_queue(
            self.api,
            name,
            max_concurrency=max_concurrency,
            mode=mode,
            exist_ok=exist_ok,
        )

    async def upsert_queue(self, name: str, **options: Any) -> QueueInfo:
        """Create or update a run queue's resource config (``upsertRunQueue``)."""
        return await queues.upsert_queue(self.api, name, **options)

    async def list_queues(self) -> Sequence[QueueInfo]:
        return await queues.list_queues(self.api)

    async def list_queue_items(self, queue: str | None = None) -> list[queues.QueueItem]:
        """The first 100 items of a run queue (W&B pages no further)."""
        return await queues.list_items(self.api, queue or self.settings.queue)

    async def delete_queue_item(self, item_id: str, queue: str | None = None) -> None:
        await queues.delete_item(self.api, queue or self.settings.queue, item_id)

    async def aclose(self) -> None:
        """Close the transport the platform and its store share."""
        await self.api.aclose()
