"""``FusedEmulator``: the Fused batch-job API on a loopback port, over real HTTP.

The endpoints the official SDK (``fused==2.9.5``) and jobrelay use, under ``/server/v1``,
with the fields the SDK's strict models require (``reference/sdk-measured.md`` §2). Auth is
``Authorization: <type> <token>``; result files (under ``/files/``) and job configs (under
``/configs/``, where ``job/by-id/{id}/config`` redirects) are served from ``localhost`` (as
from a signed storage URL) to a valid signature only, without auth.

>>> with FusedEmulator() as emu:                                  # doctest: +SKIP
...     url = f"fused://?base_url={emu.base_url}"     # credential=emu.token
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Unpack

from jobrelay_emulators.fused import state as st
from jobrelay_emulators.loopback import ID, Answer, LoopbackEmulator, LoopbackOptions, Route, route

__all__ = ["DEFAULT_TOKEN", "TOKEN_TYPE", "FusedEmulator"]

DEFAULT_TOKEN = "fused-emulator-token"
TOKEN_TYPE = "Fused-Env-Bearer"
API = "/server/v1"
_SIGNING_KEY = b"fused-emulator-signing-key"


class FusedEmulator(LoopbackEmulator):
    """A Fused account on ``127.0.0.1`` whose batch jobs run their UDFs as local processes.

    ``token`` is the one token it accepts (any of the SDK's token types). ``requests`` is
    the request log; ``add_fault`` scripts faults per operation (``start``, ``status``,
    ``logs``, ``cancel``, ``list``, ``results``, ``file``, ``config``, ``config_file``,
    ``*``). ``world.clock`` stamps
    log records (``stop_clock`` makes every line share one millisecond).
    """

    thread_name = "fused-emulator"
    default_token = DEFAULT_TOKEN

    def __init__(self, *, pending_s: float = 0.05, **options: Unpack[LoopbackOptions]) -> None:
        super().__init__(**options)
        self.world = st.World(self.workdir, pending_s=pending_s, processes=self.processes)
        self.lock = self.world.lock
        self.base_url = f"{self.url}{API}"
        self.file_base = f"http://localhost:{self.port}/files"

    def on_stop(self) -> None:
        self.world.stop()

    def authorized(self, operation: str, headers: Mapping[str, str]) -> bool:
        if operation in ("file", "config_file"):
            return True  # a signed URL: the signature is the auth
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        return bool(scheme) and hmac.compare_digest(token, self.token)

    def error_body(self, status: int, message: str) -> Any:
        return {"detail": message}

    # -- test helpers ----------------------------------------------------------------------

    def stop_clock(self, at_ms: int | None = None) -> int:
        """Stamp every log record from now on with one millisecond (now, or ``at_ms``)."""
        frozen = at_ms if at_ms is not None else st.wall_clock_ms()
        self.world.clock = lambda: frozen
        return frozen

    def set_clock(self, clock: Callable[[], int]) -> None:
        self.world.clock = clock

    def force_state(self, job_id: str, job_status: str, status: str = "terminated") -> None:
        """Script an outcome: the job is now ``job_status`` (any string, e.g. ``Failed`` or
        one Fused may add later) on an instance in ``status``; nothing moves it on."""
        with self.world.lock:
            job = self.world.jobs[job_id]
            job.scripted = True
            job.set(status, job_status)
            process = job.process
        if process is not None:
            self.world.kill(process)

    def jobs_named(self, predicate: Callable[[str], bool]) -> list[st.Job]:
        with self.world.lock:
            return [j for j in self.world.jobs.values() if predicate(j.name)]

    def jobs_with_key(self, key: str) -> list[st.Job]:
        """The jobs whose metadata carries this idempotency key."""
        with self.world.lock:
            return [
                j
                for j in self.world.jobs.values()
                if (j.body["config"].get("metadata") or {}).get("jobrelay_idempotency_key") == key
            ]

    # -- the API ---------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            route("POST", f"{API}/run", "start", self._start),
            route("GET", f"{API}/run/by-id/{ID}", "status", self._status),
            route("POST", f"{API}/run/by-id/{ID}/cancel", "cancel", self._cancel),
            route("GET", f"{API}/run/by-id/{ID}/results", "results", self._results),
            route("GET", f"{API}/logs/{ID}", "logs", self._logs),
            route("GET", f"{API}/job/self", "list", self._list),
            route("GET", f"{API}/job/by-id/{ID}/config", "config", self._config),
            route("GET", f"/files/{ID}/(?P<name>[^/]+)", "file", self._file),
            route("GET", f"/configs/{ID}", "config_file", self._config_file),
        ]

    def _job(self, id: str) -> st.Job:
        found = self.world.jobs.get(id)
        if found is None:
            raise KeyError("Job not found")
        return found

    def _start(self, body: Any, query: dict[str, list[str]], **_: Any) -> Answer:
        if not isinstance(body, dict):
            raise ValueError("the body must be a StartJobRequest")
        flat = {k: v[0] for k, v in query.items() if v}
        kind = flat.get("instance_type")
        if kind is not None and not kind:
            raise ValueError("instance_type must not be empty")
        return Answer(body=self.world.start_job(body, flat).run_response())

    def _status(self, id: str, **_: Any) -> Answer:
        return Answer(body=self._job(id).run_response())

    def _cancel(self, id: str, **_: Any) -> Answer:
        job = self._job(id)
        self.world.cancel(job)
        return Answer(body=job.run_response())

    def _logs(self, id: str, query: dict[str, list[str]], **_: Any) -> Answer:
        records = self._job(id).logs
        since = query.get("since_ms")
        if since:
            bound = int(since[0])
            records = [r for r in records if r["timestamp"] >= bound]  # inclusive, as measured
        return Answer(body=list(records))

    def _list(self, query: dict[str, list[str]], **_: Any) -> Answer:
        skip = int((query.get("skip") or ["0"])[0])
        limit = int((query.get("limit") or ["25"])[0])
        jobs = sorted(self.world.jobs.values(), key=lambda j: j.seq, reverse=True)
        return Answer(body=[j.job_response() for j in jobs[skip : skip + limit]])

    def _config(self, id: str, **_: Any) -> Answer:
        # As Fused: a redirect to a signed URL, which the SDK GETs without auth.
        self._job(id)
        signed = f"http://localhost:{self.port}/configs/{id}?sig={self._sign(id, 'config')}"
        return Answer(307, headers={"Location": signed})

    def _config_file(self, id: str, query: dict[str, list[str]], **_: Any) -> Answer:
        if not hmac.compare_digest((query.get("sig") or [""])[0], self._sign(id, "config")):
            return Answer(403, {"detail": "bad signature"})
        return Answer(body=self._job(id).body["config"])

    def _sign(self, job_id: str, name: str) -> str:
        message = f"{job_id}/{name}".encode()
        return hmac.new(_SIGNING_KEY, message, hashlib.sha256).hexdigest()[:32]

    def _results(self, id: str, **_: Any) -> Answer:
        job = self._job(id)
        return Answer(
            body=[
                {"name": name, "url": f"{self.file_base}/{id}/{name}?sig={self._sign(id, name)}"}
                for name in sorted(job.results)
            ]
        )

    def _file(self, id: str, name: str, query: dict[str, list[str]], **_: Any) -> Answer:
        given = (query.get("sig") or [""])[0]
        if not hmac.compare_digest(given, self._sign(id, name)):
            return Answer(403, {"detail": "bad signature"})
        # The SDK decodes a result by its content type (JSON, else as Parquet).
        json_file = name.endswith((".json", ".metadata"))
        kind = "application/json" if json_file else "application/octet-stream"
        return Answer(raw=self._job(id).results[name], content_type=kind)
