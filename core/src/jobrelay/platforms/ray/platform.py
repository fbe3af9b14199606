"""``RayPlatform``: jobs on a Ray cluster through its dashboard's Jobs REST API.

A few awaits around the pure functions in :mod:`.payloads` and :mod:`.packaging`. Every
request goes through :class:`jobrelay.http.HttpSession` (timeouts, stamina retries, typed
errors); nothing here imports ray.

Why logs are polled rather than tailed over the WebSocket: ``GET …/logs`` returns the
whole (append-only) log, so a character offset is an exact, resumable cursor — no line
lost or repeated across restarts — and a 5 MB log takes 0.18 s. The WebSocket tail has no
cursor, is checked by the agent only once a second, closes ~3 s after the job ends, and
would need a WebSocket client the core does not otherwise depend on.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import anyio
import httpx
from pydantic import SecretStr

from jobrelay.errors import ConfigError, ConflictError
from jobrelay.http import HostBoundAuth, HttpSession, RetryPolicy, tls_verify
from jobrelay.models import JobRef, JobSpec, JobStatus, LogPage
from jobrelay.platforms._bounded import Bounded
from jobrelay.platforms.base import Capabilities
from jobrelay.platforms.ray import guard, packaging, payloads
from jobrelay.platforms.ray.settings import RaySettings
from jobrelay.platforms.settings import load_settings
from jobrelay.waiting import PollPolicy

__all__ = ["RayPlatform", "open_platform"]

JOBS = "/api/jobs/"
# Specs whose packages check_spec keeps for the submit that follows. A check is not always
# followed by a submit (a key that reattaches, a handoff that refuses the inputs), and a
# package holds a whole zip: a long-lived process keeps only the latest few.
PACKED_SPECS = 8


class _DuplicateIsConflict(httpx.AsyncBaseTransport):
    """Presents Ray's "submission_id already exists" (an HTTP 500) as the 409 it means.

    Ray answers a duplicate ``submission_id`` with a 500 and a traceback. Left as a 500,
    the shared policy would retry it as a server fault; as a 409 it becomes
    ``ConflictError`` at once, which the core's reattach logic understands.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if (
            response.status_code == 500
            and request.method == "POST"
            and request.url.path.endswith(JOBS)
        ):
            body = await response.aread()
            await response.aclose()
            duplicate = [line for line in body.splitlines() if b"already exists" in line]
            if duplicate:  # keep Ray's one-line reason, not the agent's traceback
                return httpx.Response(
                    409,
                    headers={"Content-Type": "text/plain"},
                    content=duplicate[-1].strip(),
                    request=request,
                )
            content_type = response.headers.get("Content-Type", "text/plain")
            return httpx.Response(
                500, headers={"Content-Type": content_type}, content=body, request=request
            )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class RayPlatform:
    """One Ray cluster, addressed by its dashboard: ``ray://127.0.0.1:8265``.

    Jobs are Ray submissions. An idempotency key becomes a deterministic
    ``submission_id`` (:func:`~.payloads.submission_id_for`), so ``find`` is one GET and a
    second process racing for the same key gets ``ConflictError`` and reattaches.
    """

    name = "ray"
    capabilities = Capabilities(
        resources=True,
        tags=True,  # as the submission's metadata
        owners=True,  # in the submission's metadata too
        config_keys=payloads.CONFIG_KEYS,
        hints={
            "queue": "Ray has no named queues; drop queue=, or request resources (e.g. "
            "resources={'GPU': 1}) so Ray schedules the job where they are",
            "priority": "Ray Jobs has no priorities; drop priority=",
            "timeout_s": "Ray Jobs has no per-attempt time limit; use "
            "wait(run_timeout=...) instead",
            "max_retries": "Ray Jobs does not re-run failed jobs; resubmit with the same "
            "idempotency_key",
        },
        batch_status=True,
        # Stopping a PENDING job works while its runtime env is set up, but one Ray cannot
        # schedule stays PENDING after the stop and then FAILS at
        # RAY_JOB_START_TIMEOUT_SECONDS (measured): it is not taken off a queue. Without
        # more, its entrypoint ran once CPUs freed up (2/2); the start guard (.guard) keeps
        # it from running, but the job still sits PENDING until Ray starts or fails it.
        cancel_queued=False,
        # Ray reflects a finished job at once (median 40 ms after end_time) and one status
        # call serves every waiter of a client, so poll fast and back off only to 0.3 s.
        # benchmarks/ray_latency.py, `sleep 3` jobs: a 1.0 s ceiling gave a 643 ms median
        # lag, 0.5 s gave 355 ms; 0.3 s is what meets the 300 ms target.
        poll=PollPolicy(initial_s=0.1, max_s=0.3, backoff=1.5, jitter=0.1),
    )

    def __init__(
        self, address: payloads.RayAddress, session: HttpSession, *, job_store: str | None = None
    ) -> None:
        self.url = address.platform_url
        # Where jobs read inputs and write outputs: Ray's workers share no filesystem with
        # the client, so only a store they can reach (the ``artifacts`` setting).
        self.job_store = job_store
        # Packages check_spec made, for the submit that follows (by the spec's id).
        self._packed: Bounded[
            int, tuple[JobSpec, tuple[packaging.Package | None, dict[str, packaging.Package]]]
        ] = Bounded(PACKED_SPECS)
        self._address = address
        self._session = session

    def __repr__(self) -> str:
        return f"RayPlatform({self.url!r})"

    async def check_spec(self, spec: JobSpec) -> None:
        """What only Ray refuses: ``runtime_env`` keys, and local ``working_dir`` /
        ``py_modules`` that are missing or too big (packed here, before any request; the
        submit that follows uses these packages)."""
        self._packed[id(spec)] = (spec, await self._pack(spec))

    async def _packages(
        self, spec: JobSpec
    ) -> tuple[packaging.Package | None, dict[str, packaging.Package]]:
        """The packages ``check_spec`` made for the same spec's local paths, else new ones."""
        checked = [packed for s, packed in self._packed.values() if _same_paths(s, spec)]
        self._packed.clear()
        return checked[0] if checked else await self._pack(spec)

    async def _pack(
        self, spec: JobSpec
    ) -> tuple[packaging.Package | None, dict[str, packaging.Package]]:
        payloads.check_spec(spec)
        excludes = payloads.upload_excludes(spec)
        gitignore = os.environ.get("RAY_RUNTIME_ENV_IGNORE_GITIGNORE") != "1"
        # Everything is packed before anything is sent: a bad path uploads nothing.
        local_dir = payloads.local_working_dir(spec)
        working_dir = None
        if local_dir is not None:
            pack = functools.partial(
                packaging.package_dir, local_dir, excludes=excludes, gitignore=gitignore
            )
            working_dir = await anyio.to_thread.run_sync(pack)
        modules = {}
        for module in payloads.local_py_modules(spec):
            modules[module] = await anyio.to_thread.run_sync(
                functools.partial(
                    packaging.package_module, module, excludes=excludes, gitignore=gitignore
                )
            )
        return working_dir, modules

    def _ref(self, submission_id: str, key: str | None = None) -> JobRef:
        return JobRef(
            platform=self.url,
            id=submission_id,
            idempotency_key=key,
            url=payloads.job_page_url(self._address.base_url, submission_id),
        )

    def _path(self, ref_or_id: JobRef | str, suffix: str = "") -> str:
        job_id = ref_or_id.id if isinstance(ref_or_id, JobRef) else ref_or_id
        return f"{JOBS}{quote(job_id, safe='')}{suffix}"

    # -- submitting ---------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> JobRef:
        """POST the job; a local working dir and local ``py_modules`` are uploaded first
        (each only if Ray lacks it).

        Raises ``ConflictError`` when another submission already holds the key's id.
        """
        working_dir, modules = await self._packages(spec)
        for package in [*([working_dir] if working_dir else []), *modules.values()]:
            await self.upload_package(package)
        key = spec.idempotency_key
        submission_id = (
            payloads.submission_id_for(key) if key is not None else payloads.new_submission_id()
        )
        nonce = uuid.uuid4().hex
        body = payloads.build_submit_body(
            spec,
            submission_id=submission_id,
            nonce=nonce,
            working_dir_uri=working_dir.uri if working_dir else None,
            py_module_uris={path: package.uri for path, package in modules.items()},
        )
        # The start guard: a cancel while the job is PENDING keeps its entrypoint from
        # ever running (see .guard).
        body["entrypoint"] = guard.guarded_entrypoint(
            body["entrypoint"], guard.mark_uri(submission_id, nonce)
        )
        runtime_env = body.setdefault("runtime_env", {})
        runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), **guard.guard_env()}
        try:
            # The id is ours, so a retried POST cannot start the job twice.
            await self._session.request(
                "POST", JOBS, json=body, operation="submit Ray job", idempotent=True
            )
        except ConflictError:
            if not await self._submitted_by(submission_id, nonce):
                raise
        return self._ref(submission_id, key)

    async def _submitted_by(self, submission_id: str, nonce: str) -> bool:
        """Whether the job holding ``submission_id`` is this very submit call's (a retry)."""
        details = await self._details(submission_id)
        metadata = (details or {}).get("metadata") or {}
        return bool(metadata.get(payloads.NONCE_METADATA) == nonce)

    async def upload_package(self, package: packaging.Package) -> bool:
        """Upload ``package`` unless the cluster has it; True when bytes were sent.

        The GET also pins the URI on the cluster for a while (Ray's temporary reference),
        so the job submitted next finds it.
        """
        path = f"/api/packages/gcs/{package.name}"
        found = await self._session.request("GET", path, operation="look up Ray package", ok=(404,))
        if found.status_code != 404:
            return False
        await self._session.request(
            "PUT",
            path,
            content=package.data,
            headers={"Content-Type": "application/octet-stream"},
            operation="upload package to Ray",
        )
        return True

    async def find(self, idempotency_key: str) -> JobRef | None:
        submission_id = payloads.submission_id_for(idempotency_key)
        if await self._details(submission_id) is None:
            return None
        return self._ref(submission_id, idempotency_key)

    # -- observing ----------------------------------------------------------------------

    async def _details(self, job_id: str) -> Mapping[str, Any] | None:
        response = await self._session.request(
            "GET", self._path(job_id), operation=f"get Ray job {job_id}", ok=(404,)
        )
        if response.status_code == 404:
            return None
        data: Mapping[str, Any] = response.json()
        return data

    async def status(self, ref: JobRef) -> JobStatus:
        response = await self._session.request(
            "GET", self._path(ref), operation=f"get status of Ray job {ref.id}"
        )
        return payloads.parse_status(response.json(), ref, self._address.base_url)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """One request for all ``refs``: the job list (or the one job, for a single ref)."""
        if not refs:
            return {}
        if len(refs) == 1:
            details = await self._details(refs[0].id)
            if details is None:
                return {}
            return {refs[0].id: payloads.parse_status(details, refs[0], self._address.base_url)}
        jobs = await self._session.json("GET", JOBS, operation="list Ray jobs")
        by_id = {payloads.job_id_of(d): d for d in jobs}
        return {
            ref.id: payloads.parse_status(by_id[ref.id], ref, self._address.base_url)
            for ref in refs
            if ref.id in by_id
        }

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """Submitted jobs, newest first (drivers started outside the Jobs API are left out)."""
        if queue is not None:
            raise ConfigError("Ray has no named queues", field="queue")
        jobs = await self._session.json("GET", JOBS, operation="list Ray jobs")
        submitted = [d for d in jobs if d.get("type", "SUBMISSION") == "SUBMISSION"]
        submitted.sort(key=lambda d: d.get("start_time") or 0, reverse=True)
        base = self._address.base_url
        return [
            payloads.parse_status(d, payloads.ref_from_details(d, self.url, base), base)
            for d in submitted[:limit]
        ]

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        """Complete lines after ``cursor``; ``done`` once the job ended and all is read.

        The status is read before the log: a log fetched after Ray reports the job
        terminal is complete, so nothing can follow a ``done`` page.
        """
        offset = payloads.read_log_cursor(cursor)
        if terminal is None:
            terminal = (await self.status(ref)).state.is_terminal
        data = await self._session.json(
            "GET", self._path(ref, "/logs"), operation=f"get logs of Ray job {ref.id}"
        )
        log = str(data.get("logs") or "")
        lines, offset = payloads.split_new_lines(log, offset, final=terminal, submission_id=ref.id)
        return LogPage(lines=lines, cursor=str(offset), done=terminal and offset >= len(log))

    # -- stopping -----------------------------------------------------------------------

    async def cancel(self, ref: JobRef) -> None:
        """Stop (never delete) the job; a finished job's ``{"stopped": false}`` is a no-op.

        A job still PENDING is first marked cancelled, so that its entrypoint never runs
        when Ray starts it later (Ray's stop does not unqueue it; see :mod:`.guard`).
        Raises ``NotFoundError`` for an id the cluster does not know.
        """
        details = await self._details(ref.id)
        if details is not None:  # an unknown id: the stop below raises NotFoundError
            await self._mark_cancelled(details)
        await self._session.request(
            "POST",
            self._path(ref, "/stop"),
            operation=f"stop Ray job {ref.id}",
            idempotent=True,  # stopping twice is stopping once
        )

    async def _mark_cancelled(self, details: Mapping[str, Any]) -> None:
        """Write the cancel mark of a PENDING job jobrelay submitted (with a start guard).

        Only PENDING: a RUNNING job's guard has already passed (Ray sets RUNNING before it
        starts the entrypoint), and Ray's stop ends it.
        """
        metadata = details.get("metadata") or {}
        nonce = metadata.get(payloads.NONCE_METADATA) if isinstance(metadata, Mapping) else None
        job_id = payloads.job_id_of(details)
        if details.get("status") != "PENDING" or not isinstance(nonce, str) or job_id is None:
            return
        await self._session.request(
            "PUT",
            f"/api/packages/gcs/{guard.mark_name(job_id, nonce)}",
            content=guard.MARK_BODY,
            headers={"Content-Type": "application/octet-stream"},
            operation=f"mark Ray job {job_id} cancelled",
            idempotent=True,  # writing the same mark twice is writing it once
        )

    async def aclose(self) -> None:
        await self._session.aclose()


def _same_paths(checked: JobSpec, spec: JobSpec) -> bool:
    """Whether two specs upload the same local paths the same way (the env may differ)."""
    return checked.working_dir == spec.working_dir and checked.config.get(
        "runtime_env"
    ) == spec.config.get("runtime_env")


async def open_platform(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> RayPlatform:
    """Open ``ray://host:port`` (http) or ``ray+https://host:port``; no request is made.

    ``options`` are :class:`RaySettings`. The credential (else ``$JOBRELAY_RAY_TOKEN``, else
    Ray's ``$RAY_AUTH_TOKEN``) is sent as ``Authorization: Bearer …`` to the dashboard host
    only; without one, no auth header is sent (Ray's default). ``transport`` replaces the
    HTTP transport and ``retry`` the retry policy (tests inject faults).

    >>> platform = await open_platform("ray://127.0.0.1:8265")   # doctest: +SKIP
    """
    settings = load_settings(RaySettings, url, options)
    address = payloads.parse_address(url)
    raw_token = settings.secret()
    auth = HostBoundAuth(address.host, SecretStr(f"Bearer {raw_token}")) if raw_token else None
    inner = transport or httpx.AsyncHTTPTransport(verify=tls_verify(settings.verify))
    session = HttpSession(
        address.base_url,
        auth=auth,
        timeout=settings.http_timeout(),
        retry=retry or settings.retry_policy(),
        transport=_DuplicateIsConflict(inner),
        verify=settings.verify,
        secrets=(raw_token,),
    )
    return RayPlatform(address, session, job_store=settings.artifacts)
