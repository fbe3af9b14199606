"""``FusedPlatform``: Fused batch jobs of a UDF through the HTTP API the official SDK uses.

A few awaits around :mod:`.payloads`, every request through
:class:`jobrelay.http.HttpSession`. The credential goes to the API host only. A succeeded
job's result files are reported (:meth:`FusedPlatform.results`), not stored here: the
client's handoff stores them, reading each from its signed URL through a second session that
never holds the credential (:meth:`FusedPlatform.read_result`).

Fused's own SDK retries ``POST /run`` on 502/503 with no idempotency key. Here a start is
never re-sent blindly: each carries a nonce in the job's name, and after a 5xx, a 429 or a
dropped connection the job list is read for it first
(:func:`jobrelay.platforms._create_once.create_once`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.registry import open_store
from jobrelay.artifacts.staging import resolve_store_url
from jobrelay.errors import NotFoundError, PlatformError
from jobrelay.http import HttpSession, RetryPolicy
from jobrelay.models import JobRef, JobSpec, JobState, JobStatus, LogPage
from jobrelay.platforms._bounded import Bounded
from jobrelay.platforms._create_once import create_once
from jobrelay.platforms._hosted import open_hosted
from jobrelay.platforms.base import Capabilities
from jobrelay.platforms.fused import payloads
from jobrelay.platforms.fused.settings import (
    DEFAULT_BASE_URL,
    TOKEN_TYPE_ENV,
    FusedSettings,
)
from jobrelay.platforms.results import ResultFile
from jobrelay.waiting import PollPolicy

__all__ = ["FusedPlatform", "open_platform"]

LIST_PAGE = 25
FIND_PAGES = 4  # a key is looked for among the newest 100 jobs
READS_AT_ONCE = 16  # per-job reads of one statuses() call in flight together
REMEMBERED = 4096  # jobs whose name, last response and dates a platform keeps (LRU)


class FusedPlatform:
    """Fused batch jobs of one account: ``fused://`` (or ``fused://?base_url=...``).

    A job is one UDF step run once per input on a batch instance. Cancel cancels the job
    (its instance stops). A succeeded job's result files become its outputs: this platform
    reports them (:meth:`results`), the client's handoff stores them in
    :meth:`artifact_store`.
    """

    name = "fused"
    capabilities = Capabilities(
        env=True,  # as additional_env
        working_dir=False,
        tags=True,  # in the job's metadata
        owners=True,  # in the job's name (its status carries it)
        config_keys=payloads.CONFIG_KEYS,
        hints={
            "entrypoint": "name the UDF's function; its source goes in config.code",
            "working_dir": "a Fused UDF is its source: give it as config.code or code_file",
            "resources": "choose config.instance_type (e.g. 'small', 'm5.large'), "
            "config.disk_size_gb and config.region",
        },
        batch_status=True,
        native_artifacts=True,  # the job's result files (results(); the handoff stores them)
        # One list request a tick answers for every job of the process (statuses()), so a
        # short interval costs per process, not per job. For a minute after a job joins or
        # anything moves, at most 0.3 s between ticks (about what the SDK's own tail_logs
        # makes for one job); then backing off to 2 s, so an hours-long job costs a request
        # every 2 s. The SDK's wait_for_job polls every 5 s: an end is seen ~2.5 s late.
        poll=PollPolicy(
            initial_s=0.25, max_s=2.0, backoff=1.2, jitter=0.1, brisk_s=60.0, brisk_max_s=0.3
        ),
    )

    def __init__(
        self, settings: FusedSettings, session: HttpSession, downloads: HttpSession
    ) -> None:
        default = settings.base_url == DEFAULT_BASE_URL
        self.url = "fused://" + (
            "" if default else f"?base_url={quote(settings.base_url, safe=':/')}"
        )
        self._settings = settings
        self._session = session
        self._downloads = downloads
        self._store: ArtifactStore | None = None
        # Per job, bounded (least recently used forgotten: one read again).
        self._names: Bounded[str, str] = Bounded(REMEMBERED)  # names never change
        self._runs: Bounded[str, Mapping[str, Any]] = Bounded(REMEMBERED)  # last RunResponse
        self._finished: Bounded[str, JobStatus] = Bounded(REMEMBERED)  # terminal: read once
        # What a RunResponse no longer tells: when a job was created (the job list tells)
        # and when it started (a Running response or list entry told).
        self._created: Bounded[str, datetime] = Bounded(REMEMBERED)
        self._started: Bounded[str, datetime] = Bounded(REMEMBERED)
        self._ending: Bounded[str, asyncio.Lock] = Bounded(REMEMBERED)  # a terminal read

    def __repr__(self) -> str:
        return f"FusedPlatform({self._settings.base_url!r})"

    def check_spec(self, spec: JobSpec) -> None:
        payloads.check_spec(spec)

    def artifact_store(self) -> ArtifactStore:
        """Where the result files of succeeded jobs are kept: the ``artifacts`` setting,
        else ``$JOBRELAY_ARTIFACTS``, else the local store."""
        if self._store is None:
            self._store = open_store(resolve_store_url(self._settings.artifacts))
        return self._store

    def _ref(self, job_id: str, key: str | None) -> JobRef:
        return JobRef(platform=self.url, id=job_id, idempotency_key=key, url=self._page(job_id))

    # -- starting --------------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> JobRef:
        """Start the job; after a 5xx, 429 or dropped connection its nonce is looked up in
        the job list before the start is sent again."""
        nonce = uuid.uuid4().hex[:16]
        query, body = payloads.build_start(spec, nonce=nonce)
        name = body["config"]["name"]

        async def send() -> JobRef:
            run = await self._session.json(
                "POST",
                "/run",
                operation="start Fused job",
                params=query,
                json=body,
                headers={"Fused-Recursion": "1"},
                idempotent=False,
            )
            job_id = str(run["job_id"])
            self._names[job_id] = name
            # The start's answer is the job's first RunResponse: no read to learn its name
            # and size when the list first shows it.
            self._runs[job_id] = run
            return self._ref(job_id, spec.idempotency_key)

        async def find() -> JobRef | None:
            found = await self._find(lambda job_name: job_name == name, pages=2)
            return None if found is None else self._ref(found, spec.idempotency_key)

        return await create_once(send, find, self._session.retry)

    async def find(self, idempotency_key: str) -> JobRef | None:
        """The newest job (of the newest 100) whose name carries this key."""
        found = await self._find(lambda n: payloads.name_has_key(n, idempotency_key))
        return None if found is None else self._ref(found, idempotency_key)

    async def _list(self, skip: int, limit: int) -> list[Mapping[str, Any]]:
        listed = await self._session.json(
            "GET", "/job/self", operation="list Fused jobs", params={"skip": skip, "limit": limit}
        )
        jobs = [j for j in listed if isinstance(j, Mapping) and j.get("id")]
        for job in jobs:
            created = payloads.creation_date_of(job)
            if created is not None:
                self._created[str(job["id"])] = created
        return jobs

    async def _find(self, wanted: Callable[[str], bool], pages: int = FIND_PAGES) -> str | None:
        # A listed job carries no name: read it once per job (it never changes), newest first.
        for page in range(pages):
            jobs = await self._list(page * LIST_PAGE, LIST_PAGE)
            for job in jobs:
                job_id = str(job["id"])
                name = job.get("job_name") or job.get("name") or self._names.get(job_id)
                if name is None:
                    name = str((await self._run(job_id)).get("job_name"))
                    self._names[job_id] = name
                if wanted(str(name)):
                    return job_id
            if len(jobs) < LIST_PAGE:
                break
        return None

    # -- observing -------------------------------------------------------------------------

    async def _run(self, job_id: str) -> Mapping[str, Any]:
        run: Mapping[str, Any] = await self._session.json(
            "GET", f"/run/by-id/{quote(job_id, safe='')}", operation=f"get Fused job {job_id}"
        )
        self._runs[job_id] = run
        started = payloads.started_at_of(run)
        if started is not None:
            self._started.setdefault(job_id, started)
        return run

    async def status(self, ref: JobRef) -> JobStatus:
        if ref.id in self._finished:
            return self._finished[ref.id].model_copy(update={"ref": ref})
        return await self._status_of(ref, await self._run(ref.id))

    def _page(self, job_id: str) -> str:
        return payloads.job_page_url(self._settings.base_url, job_id)

    async def _status_of(self, ref: JobRef, run: Mapping[str, Any]) -> JobStatus:
        state = payloads.map_state(run.get("job_status"), run.get("status"))
        if not state.is_terminal:
            return payloads.parse_status(
                run,
                ref,
                submitted_at=self._created.get(ref.id),
                started_at=self._started.get(ref.id),
                url=self._page(ref.id),
            )
        async with self._ending.setdefault(ref.id, asyncio.Lock()):  # read once
            if ref.id not in self._finished:
                # Read once, at the end: the log for a failure's reason and, when no Running
                # response was seen, the start (its first record); the list for the
                # creation date when no list read showed this job yet.
                records: list[Mapping[str, Any]] = []
                if state is JobState.FAILED or ref.id not in self._started:
                    records = await self._all_records(ref.id)
                error = payloads.last_error(records) if state is JobState.FAILED else None
                started = self._started.get(ref.id) or payloads.first_record_time(records)
                if ref.id not in self._created:
                    await self._newest_jobs()
                status = payloads.parse_status(
                    run,
                    ref,
                    error=error,
                    submitted_at=self._created.get(ref.id),
                    started_at=started,
                    url=self._page(ref.id),
                )
                self._finished[ref.id] = status
        return self._finished[ref.id].model_copy(update={"ref": ref})

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """One list request per 100 jobs a tick. The list carries each job's
        ``job_status``; a job's own status is read only when that does not tell its state
        (:func:`payloads.with_listed`: a job this platform has no response of yet, a new
        ``Failed`` or ``Canceled``, a value Fused may add later) or the list misses it."""
        wanted = {ref.id: ref for ref in refs if ref.id not in self._finished}
        found = {ref.id: self._finished[ref.id] for ref in refs if ref.id in self._finished}
        listed: dict[str, Mapping[str, Any]] = {}
        skip = 0
        while wanted and len(listed) < len(wanted) and skip < 4 * max(100, len(wanted)):
            page = await self._list(skip, max(100, len(wanted)))
            listed |= {str(j["id"]): j for j in page if str(j["id"]) in wanted}
            if len(page) < max(100, len(wanted)):
                break
            skip += len(page)
        limit = asyncio.Semaphore(READS_AT_ONCE)

        async def read(job_id: str, ref: JobRef) -> JobStatus | None:
            item = listed.get(job_id)
            known = self._runs.get(job_id)
            run = None if item is None or known is None else payloads.with_listed(known, item)
            async with limit:
                if run is None:
                    try:
                        run = await self._run(job_id)
                    except NotFoundError:  # gone: left out, as the contract says
                        return None
                else:
                    started = payloads.started_at_of(run)
                    if started is not None:
                        self._started.setdefault(job_id, started)
                return await self._status_of(ref, run)

        # The jobs that moved are read at once (a tick costs one round trip, not one per job).
        read_now = await asyncio.gather(*(read(i, r) for i, r in wanted.items()))
        found |= {job_id: st for job_id, st in zip(wanted, read_now, strict=True) if st}
        return found

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The newest jobs (Fused has no queues: ``queue`` gives none)."""
        if queue is not None:
            return []
        jobs = (await self._list(0, min(max(limit, 1), 1000)))[:limit]
        refs = [self._ref(str(j["id"]), None) for j in jobs]
        statuses = await self.statuses(refs)
        return [statuses[r.id] for r in refs if r.id in statuses]

    async def _records(self, job_id: str, since: int | None) -> list[Mapping[str, Any]]:
        params = {} if since is None else {"since_ms": since}
        records = await self._session.json(
            "GET",
            f"/logs/{quote(job_id, safe='')}",
            operation=f"read logs of Fused job {job_id}",
            params=params,
        )
        return [r for r in records if isinstance(r, Mapping)] if isinstance(records, list) else []

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        """The records after ``cursor``. The state is read first (unless ``terminal`` gives
        it): records read after a terminal state are complete, so nothing can follow a
        ``done`` page."""
        at = payloads.read_log_cursor(cursor)
        if terminal is None:
            run = await self._run(ref.id)
            terminal = payloads.map_state(run.get("job_status"), run.get("status")).is_terminal
        records = await self._records(ref.id, payloads.since_ms(at))
        lines, after = payloads.records_after(records, at)
        return LogPage(lines=lines, cursor=payloads.write_log_cursor(after), done=terminal)

    async def _all_records(self, job_id: str) -> list[Mapping[str, Any]]:
        try:
            return await self._records(job_id, None)
        except PlatformError:  # the outcome itself is what the caller needs; its details are extra
            return []

    async def _newest_jobs(self) -> None:
        """One read of the newest 100 jobs, for their creation dates."""
        try:
            await self._list(0, 100)
        except PlatformError:  # a creation date is extra: the outcome does not wait for it
            return

    async def results(self, ref: JobRef) -> list[ResultFile]:
        """The result files of a succeeded job with their signed URLs, by name (a
        ``.metadata`` sidecar is a note of its file): one listing, no bytes read."""
        listed = await self._session.json(
            "GET",
            f"/run/by-id/{quote(ref.id, safe='')}/results",
            operation=f"list results of Fused job {ref.id}",
        )
        return payloads.result_files(ref.id, listed)

    async def read_result(self, url: str, name: str) -> bytes:
        """The bytes at a result's signed URL, read without the credential."""
        response = await self._downloads.request(
            "GET", url, operation=f"download Fused result {name}"
        )
        return response.content

    # -- stopping --------------------------------------------------------------------------

    async def cancel(self, ref: JobRef) -> None:
        """Cancel the job (its batch instance stops, with the UDF calls on it); a no-op on a
        finished job."""
        status = await self.status(ref)
        if status.state.is_terminal:
            return
        await self._session.request(
            "POST",
            f"/run/by-id/{quote(ref.id, safe='')}/cancel",
            operation=f"cancel Fused job {ref.id}",
            idempotent=True,
        )
        self._runs.pop(ref.id, None)  # its next status is read, not taken from the list

    async def aclose(self) -> None:
        await self._session.aclose()
        await self._downloads.aclose()


async def open_platform(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> FusedPlatform:
    """Open ``fused://`` (``?base_url=`` for another server); no request is made.

    ``options`` are :class:`FusedSettings`; ``transport`` and ``retry`` are for tests.
    Raises ``ConfigError`` when no credential is given or set in ``$FUSED_AUTH_TOKEN``.
    """
    settings, session, downloads = open_hosted(
        FusedSettings,
        url,
        options,
        needs="a token",
        hint=f" (and ${TOKEN_TYPE_ENV}, e.g. Fused-Env-Bearer)",
        sends=lambda chosen, token: f"{chosen.token_type} {token}",
        headers={"X-Fused-Cache-Disable": "true"},
        transport=transport,
        retry=retry,
    )
    return FusedPlatform(settings, session=session, downloads=downloads)
