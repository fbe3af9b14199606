"""``AnyscalePlatform``: Anyscale Jobs through the HTTP API the official SDK uses.

A few awaits around :mod:`.payloads`. Every request goes through
:class:`jobrelay.http.HttpSession`. The credential is sent as the ``cli_token`` cookie, to
the API host only; log chunks are fetched by a second session that never holds it (only the
chunk listing's bearer token, when it gives one).

Why a create is safe to repeat here although Anyscale has no idempotency key: every create
carries a fresh ``jobrelay-submit-nonce`` tag, and after a transport error, a 5xx or a 429
the platform looks that tag up before it sends the create again
(:func:`jobrelay.platforms._create_once.create_once`). A local ``working_dir`` is uploaded by
:mod:`.upload`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from jobrelay.errors import NotFoundError
from jobrelay.http import HttpSession, RetryPolicy
from jobrelay.models import JobRef, JobSpec, JobStatus, LogPage
from jobrelay.platforms._bounded import Bounded
from jobrelay.platforms._create_once import create_once
from jobrelay.platforms._hosted import open_hosted
from jobrelay.platforms.anyscale import log_walk, payloads
from jobrelay.platforms.anyscale import names as lookups
from jobrelay.platforms.anyscale.settings import (
    DEFAULT_HOST,
    AnyscaleSettings,
)
from jobrelay.platforms.anyscale.upload import WorkingDirUploader, pack
from jobrelay.platforms.base import Capabilities
from jobrelay.waiting import PollPolicy

__all__ = ["AnyscalePlatform", "open_platform"]

NONCE_TAG = "jobrelay-submit-nonce"
CREATE = "/api/v2/decorated_ha_jobs/create"
JOBS = "/api/v2/decorated_ha_jobs/"
RUNS = "/api/v2/decorated_ha_jobs/job_runs/search"
RESOLVED_NAMES = 256  # sets of names remembered per platform


class AnyscalePlatform:
    """Anyscale Jobs of one organization: ``anyscale://`` (or ``anyscale://?host=...``).

    Names (cloud, project, compute config, image) are resolved to ids once per client and
    cached. Jobs in a job queue are QUEUED with their position; cancel terminates.
    """

    name = "anyscale"
    capabilities = Capabilities(
        queues=True,  # as job_queue_config.target_job_queue_name (or a spec to create one)
        priority=True,
        timeout=True,
        owners=True,  # as a tag
        retries=True,
        tags=True,
        config_keys=payloads.CONFIG_KEYS,
        hints={
            "resources": "Anyscale sizes a job by its compute config; pass "
            "config={'compute_config': 'name:version'}",
        },
        batch_status=True,
        cancel_queued=True,
        # A hosted API, two requests a tick for every job of the process: at most 0.4 s
        # apart for a minute after a job joins or anything moves (a short job's end is seen
        # within ~0.3 s), then backing off to 2 s. The SDK polls every 10 s per job.
        poll=PollPolicy(
            initial_s=0.25, max_s=2.0, backoff=1.5, jitter=0.1, brisk_s=60.0, brisk_max_s=0.4
        ),
    )

    def __init__(
        self, settings: AnyscaleSettings, session: HttpSession, chunks: HttpSession
    ) -> None:
        self.url = "anyscale://" + (
            "" if settings.host == DEFAULT_HOST else f"?host={quote(settings.host, safe=':/')}"
        )
        self.job_store = settings.artifacts
        self._settings = settings
        self._session = session
        self._chunks = chunks
        # per distinct set of names a spec uses (cloud, project, compute config): bounded for a
        # long-lived process whose specs name many; a forgotten set costs its lookups again
        self._resolved: Bounded[lookups.Names, lookups.Resolved] = Bounded(RESOLVED_NAMES)
        self._resolving = asyncio.Lock()
        self._uploader = WorkingDirUploader(session, chunks)

    def __repr__(self) -> str:
        return f"AnyscalePlatform({self._settings.host!r})"

    def check_spec(self, spec: JobSpec) -> None:
        payloads.check_spec(spec)

    def _ref(self, job: Mapping[str, Any], key: str | None = None) -> JobRef:
        tags = job.get("tags") if isinstance(job.get("tags"), Mapping) else {}
        return JobRef(
            platform=self.url,
            id=str(job["id"]),
            idempotency_key=key if key is not None else (tags or {}).get(payloads.KEY_TAG),
            url=job.get("overview_url") or f"{self._settings.host}/jobs/{job['id']}",
        )

    # -- names to ids (once per client) ----------------------------------------------------

    async def _resolve(self, spec: JobSpec) -> lookups.Resolved:
        s = self._settings
        cfg = spec.config
        names = lookups.Names(
            cloud=cfg.get("cloud", s.cloud),
            compute=cfg.get("compute_config", s.compute_config),
            project=cfg.get("project", s.project),
            image=cfg.get("image_uri", s.image),
        )
        async with self._resolving:
            if names not in self._resolved:
                self._resolved[names] = await self._resolve_names(names)
            return self._resolved[names]

    async def _resolve_names(self, names: lookups.Names) -> lookups.Resolved:
        known: dict[str, str] = {}
        while isinstance(step := lookups.next_lookup(names, known), lookups.Lookup):
            answer = await self._session.json(
                step.method,
                step.path,
                operation=step.operation,
                params=step.params,
                json=step.body,
                idempotent=True,  # a repeat finds the same ids (an image's build is get-or-create)
            )
            known[step.gives] = lookups.looked_up(step, answer)
        return step

    async def _result(self, method: str, path: str, what: str, **kw: Any) -> Any:
        data = await self._session.json(method, path, operation=what, **kw)
        return data["result"]

    # -- submitting ----------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> JobRef:
        """Create the job. After a transport error, 5xx or 429 on the create, the job is
        looked up by this call's nonce tag before the create is sent again."""
        payloads.check_spec(spec)
        package = await pack(spec)  # before any request: a bad folder sends nothing
        ids = await self._resolve(spec)
        uri = await self._uploader.upload(package, ids.cloud_id) if package is not None else None
        nonce = uuid.uuid4().hex
        body = payloads.build_create_body(
            spec,
            name=spec.name or f"job-{uuid.uuid4()}",
            project_id=ids.project_id,
            build_id=ids.build_id,
            compute_config_id=ids.compute_config_id,
            working_dir_uri=uri,
        )
        body["tags"] = {**body.get("tags", {}), NONCE_TAG: nonce}

        async def send() -> JobRef:
            job = await self._result("POST", CREATE, "create Anyscale job", json=body)
            return self._ref(job, spec.idempotency_key)

        async def find() -> JobRef | None:
            found = await self._find_tag(NONCE_TAG, nonce)
            return None if found is None else self._ref(found, spec.idempotency_key)

        return await create_once(send, find, self._session.retry)

    async def find(self, idempotency_key: str) -> JobRef | None:
        """The newest job tagged with exactly this key (archived ones included)."""
        job = await self._find_tag(payloads.KEY_TAG, idempotency_key)
        return None if job is None else self._ref(job, idempotency_key)

    async def _find_tag(self, tag: str, value: str) -> Mapping[str, Any] | None:
        params = payloads.job_list_params(count=50, tag_filter=f"{tag}:{value}")
        data = await self._session.json("GET", JOBS, operation="find Anyscale job", params=params)
        return payloads.tagged_job(data.get("results") or [], tag, value)

    # -- observing ----------------------------------------------------------------------

    async def _runs(self, job_ids: Sequence[str]) -> Mapping[str, list[Mapping[str, Any]]]:
        data = await self._session.json(
            "POST",
            RUNS,
            operation="search Anyscale job runs",
            json=payloads.runs_search_body(job_ids),
            idempotent=True,
        )
        found: Mapping[str, list[Mapping[str, Any]]] = data.get("results") or {}
        return found

    async def _job(self, job_id: str) -> Mapping[str, Any]:
        job: Mapping[str, Any] = await self._result(
            "GET",
            f"/ext/v0/production_jobs/{quote(job_id, safe='')}",
            f"get Anyscale job {job_id}",
        )
        return job

    async def status(self, ref: JobRef) -> JobStatus:
        job = await self._job(ref.id)
        runs = (await self._runs([ref.id])).get(ref.id, [])
        position = None
        current = (job.get("state") or {}).get("current_state")
        if current == "PENDING" and job.get("job_queue_id"):
            queued = await self._session.json(
                "GET",
                JOBS,
                operation="list Anyscale job queue",
                params=payloads.job_list_params(
                    count=payloads.JOB_LIST_MAX,
                    job_queue_id=str(job["job_queue_id"]),
                    state_filter="PENDING",
                ),
            )
            position = payloads.queue_position(queued.get("results") or [], ref.id)
        return payloads.parse_status(job, ref, runs=runs, queue_position=position)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """Two requests for any number of jobs: the newest page of the job list (the
        decorated shape carries queue positions) and one runs search for all of them."""
        if not refs:
            return {}
        wanted = {ref.id: ref for ref in refs}
        listed = await self._session.json(
            "GET",
            JOBS,
            operation="list Anyscale jobs",
            params=payloads.job_list_params(count=payloads.JOB_LIST_MAX),
        )
        jobs = {j["id"]: j for j in listed.get("results") or [] if j.get("id") in wanted}
        for missing in [i for i in wanted if i not in jobs]:  # older than the newest 1000
            try:
                jobs[missing] = await self._job(missing)
            except NotFoundError:  # deleted: left out, as statuses() leaves out what is gone
                continue
        runs = await self._runs(list(jobs)) if jobs else {}
        return {
            job_id: payloads.parse_status(job, wanted[job_id], runs=runs.get(job_id, []))
            for job_id, job in jobs.items()
        }

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The newest batch jobs (not archived), optionally those of one job queue."""
        params = payloads.job_list_params(count=limit, archived=False)
        listed = await self._session.json(
            "GET", JOBS, operation="list Anyscale jobs", params=params
        )
        jobs = [
            j
            for j in listed.get("results") or []
            if queue is None or (j.get("job_queue") or {}).get("name") == queue
        ][:limit]
        runs = await self._runs([j["id"] for j in jobs]) if jobs else {}
        return [payloads.parse_status(j, self._ref(j), runs=runs.get(j["id"], [])) for j in jobs]

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        """Complete lines after ``cursor``, across the job's runs in order.

        The job's state is read before the chunks (unless ``terminal`` gives it): chunks
        listed after a terminal state are complete, so nothing can follow a ``done`` page.
        """
        at = payloads.read_log_cursor(cursor)
        if terminal is None:
            job = await self._job(ref.id)
            terminal = payloads.settled_state(job).is_terminal
        runs = (await self._runs([ref.id])).get(ref.id, [])
        walk = log_walk.LogWalk(runs, at, terminal=terminal)
        while (step := walk.next()) is not None:
            if isinstance(step, log_walk.ChunkListing):
                walk.listed(await self._chunk_page(step.run_id, step.page))
            else:
                walk.downloaded(await self._download(step.url, step.bearer))
        return LogPage(
            lines=walk.lines, cursor=payloads.write_log_cursor(walk.cursor), done=walk.done
        )

    async def _chunk_page(self, run_id: str, token: str | None) -> Mapping[str, Any]:
        params: dict[str, Any] = {"page_size": 1000}
        if token:
            params["next_page_token"] = token
        page: Mapping[str, Any] = await self._result(
            "GET",
            f"/api/v2/logs/job_logs_download_v2/{quote(run_id, safe='')}",
            f"list log chunks of Anyscale job run {run_id}",
            params=params,
        )
        return page

    async def _download(self, url: str, bearer: str | None) -> str:
        # The chunk session holds no cookie: only the listing's bearer token, if any.
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = await self._chunks.request(
            "GET", url, operation="download Anyscale log chunk", headers=headers
        )
        return payloads.decode_chunk(response.content)

    # -- stopping -----------------------------------------------------------------------

    async def cancel(self, ref: JobRef) -> None:
        """Terminate the job (its cluster's entrypoint is stopped; a queued job leaves the
        queue). A no-op on a finished job."""
        job = await self._job(ref.id)
        if payloads.settled_state(job).is_terminal:
            return
        await self._act(
            "POST", f"/ext/v0/production_jobs/{quote(ref.id, safe='')}/terminate", "terminate", ref
        )

    async def archive(self, ref: JobRef) -> None:
        """Archive a finished job (hidden from lists unless asked for); a repeat is a no-op."""
        await self._act("POST", f"{JOBS}{quote(ref.id, safe='')}/archive", "archive", ref)

    async def delete(self, ref: JobRef) -> None:
        """Delete a finished job and all its runs; irreversible."""
        await self._act("DELETE", f"{JOBS}{quote(ref.id, safe='')}", "delete", ref)

    async def _act(self, method: str, path: str, verb: str, ref: JobRef) -> None:
        # Each of these may be sent again: a repeat finds the job already in that state.
        await self._session.request(
            method, path, operation=f"{verb} Anyscale job {ref.id}", idempotent=True
        )

    async def aclose(self) -> None:
        await self._session.aclose()
        await self._chunks.aclose()


async def open_platform(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> AnyscalePlatform:
    """Open ``anyscale://`` (``?host=`` for another control plane); no request is made.

    ``options`` are :class:`AnyscaleSettings`; ``transport`` and ``retry`` are for tests.
    Raises ``ConfigError`` when no credential is given or set in ``$ANYSCALE_CLI_TOKEN``.
    """
    settings, session, chunks = open_hosted(
        AnyscaleSettings,
        url,
        options,
        needs="a CLI token",
        header="Cookie",
        sends=lambda _, token: f"cli_token={token}",
        headers={"X-Anyscale-Client": "jobrelay"},
        transport=transport,
        retry=retry,
    )
    return AnyscalePlatform(settings, chunks=chunks, session=session)
