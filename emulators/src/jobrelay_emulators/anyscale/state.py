"""The emulated Anyscale organization: jobs, runs, job queues and log chunks.

Each run's entrypoint is a real local process (``/bin/sh -c``, its own process group, the
job's ``env_vars``), started through the emulator's
:class:`~jobrelay_emulators.processes.ProcessGroups`; what it prints is appended to the run's
log chunks as it prints.
A scheduler thread moves jobs through ``PENDING`` (in a job queue: until a slot frees, by
FIFO, LIFO or priority), ``AWAITING_CLUSTER_START``, ``RUNNING`` and a terminal state, and
applies ``max_retries`` (a new run per attempt) and ``timeout_s``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
import os
import subprocess
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobrelay_emulators.processes import ProcessGroups, Stopping

__all__ = ["Job", "JobQueue", "Run", "World"]

CHUNK_LINES = 50  # a chunk closes after this many lines; closed chunks are served gzipped
CLUSTER_START_S = 0.05
TERMINAL = frozenset({"SUCCESS", "TERMINATED", "OUT_OF_RETRIES", "BROKEN"})
USER_ID = "usr_emulator"
CLOUD_ID = "cld_emulator"
PROJECT_ID = "prj_default"
COMPUTE_ID = "cpt_default"
BUILD_ID = "bld_default"
CLUSTER_ENV_ID = "apt_default"
BUCKET_URI = "s3://emulator-bucket"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}{uuid.uuid4().hex[:8]}"


@dataclass
class Run:
    id: str
    job_id: str
    name: str
    created_at: str = field(default_factory=now)
    finished_at: str | None = None
    status: str = "PENDING"
    chunks: list[bytearray] = field(default_factory=lambda: [bytearray()])
    lines_in_last: int = 0
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pumped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, data: bytes) -> None:
        with self.lock:
            for line in data.splitlines(keepends=True):
                self.chunks[-1] += line
                if line.endswith(b"\n"):
                    self.lines_in_last += 1
                    if self.lines_in_last >= CHUNK_LINES:
                        self.chunks.append(bytearray())
                        self.lines_in_last = 0

    def chunk_bytes(self, index: int) -> bytes:
        with self.lock:
            data = bytes(self.chunks[index])
            closed = index < len(self.chunks) - 1 or self.finished_at is not None
        return gzip.compress(data) if closed else data

    def visible_chunks(self) -> int:
        with self.lock:
            count = len(self.chunks)
            return count - 1 if count > 1 and not self.chunks[-1] else count

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "ha_job_id": self.job_id,
            "cluster_id": f"ses_{self.job_id}",
            "ray_job_submission_id": f"raysubmit_{self.id}",
        }


@dataclass
class JobQueue:
    id: str
    name: str
    max_concurrency: int = 1
    execution_mode: str = "FIFO"
    idle_timeout_sec: int = 600
    compute_config_id: str = COMPUTE_ID
    held: bool = False
    created_at: str = field(default_factory=now)
    order: itertools.count[int] = field(default_factory=itertools.count)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "current_job_queue_state": "ACTIVE",
            "execution_mode": self.execution_mode,
            "max_concurrency": self.max_concurrency,
            "idle_timeout_sec": self.idle_timeout_sec,
            "compute_config_id": self.compute_config_id,
            "created_at": self.created_at,
            "creator_id": USER_ID,
        }


@dataclass
class Job:
    id: str
    name: str
    project_id: str
    config: dict[str, Any]
    tags: dict[str, str]
    queue: JobQueue | None = None
    priority: int | None = None
    queue_seq: int = 0
    created_at: str = field(default_factory=now)
    state: str = "PENDING"
    state_at: str = field(default_factory=now)
    error: str | None = None
    runs: list[Run] = field(default_factory=list)
    archived_at: str | None = None
    terminate_asked: bool = False
    scripted: bool = False  # a test forced its state: the scheduler leaves it alone
    start_at: float = 0.0

    def set_state(self, state: str, error: str | None = None) -> None:
        self.state = state
        self.state_at = now()
        if error is not None:
            self.error = error

    def wire(self, host: str, *, position: int | None = None) -> dict[str, Any]:
        """The job in the shape the SDK requires of all three (a superset of each)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": None,
            "created_at": self.created_at,
            "updated_at": self.state_at,
            "status_updated_at": self.state_at,
            "creator_id": USER_ID,
            "project_id": self.project_id,
            "cloud_id": CLOUD_ID,
            "is_service": False,
            "is_imported": False,
            "archived_at": self.archived_at,
            "last_job_run_id": self.runs[-1].id if self.runs else None,
            "job_queue_id": self.queue.id if self.queue else None,
            "job_queue": {"id": self.queue.id, "name": self.queue.name} if self.queue else None,
            "job_queue_config": {"priority": self.priority} if self.queue else None,
            "position_in_job_queue": position,
            "overview_url": f"{host}/jobs/{self.id}",
            "tags": dict(self.tags),
            "config": self.config,
            "state": {
                "id": f"state_{self.id}",
                "current_state": self.state,
                "goal_state": "SUCCESS",
                "state_transitioned_at": self.state_at,
                "error": self.error,
                "cluster_id": f"ses_{self.id}" if self.runs else None,
            },
            "project": {"id": self.project_id, "name": "default", "directory_name": "default"},
            "creator": {
                "id": USER_ID,
                "name": "Emulator User",
                "username": "emulator",
                "email": "emulator@example.com",
            },
        }


class World:
    """Everything the emulator knows, guarded by one lock; a scheduler thread drives it.

    Runs start through ``processes`` (a new :class:`ProcessGroups` by default); a
    terminated run gets SIGTERM, and SIGKILL after its grace period.
    """

    def __init__(self, workdir: Path, processes: ProcessGroups | None = None) -> None:
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.queues: dict[str, JobQueue] = {}
        self.runs: dict[str, Run] = {}
        self.storage: dict[str, bytes] = {}  # uploaded file name -> bytes
        self.workdir = workdir
        self.processes = processes if processes is not None else ProcessGroups()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- jobs and queues -------------------------------------------------------------------

    def queue_named(self, name: str) -> JobQueue | None:
        return next((q for q in self.queues.values() if q.name == name), None)

    def create_queue(self, name: str, **spec: Any) -> JobQueue:
        with self.lock:
            found = self.queue_named(name)
            if found is not None:
                return found
            queue = JobQueue(new_id("jq_"), name, **spec)
            self.queues[queue.id] = queue
            return queue

    def create_job(self, body: dict[str, Any]) -> Job:
        with self.lock:
            queue_config = body.get("job_queue_config") or {}
            queue = None
            if "job_queue_spec" in queue_config:
                qs = queue_config["job_queue_spec"]
                queue = self.create_queue(
                    qs["job_queue_name"],
                    max_concurrency=int(qs.get("max_concurrency") or 1),
                    execution_mode=qs.get("execution_mode") or "FIFO",
                    idle_timeout_sec=int(qs.get("idle_timeout_sec") or 600),
                )
            elif "target_job_queue_name" in queue_config:
                queue = self.queue_named(queue_config["target_job_queue_name"])
                if queue is None:
                    raise KeyError(f"job queue {queue_config['target_job_queue_name']!r}")
            elif "target_job_queue_id" in queue_config:
                queue = self.queues[queue_config["target_job_queue_id"]]
            job = Job(
                id=new_id("prodjob_"),
                name=body["name"],
                project_id=body.get("project_id") or PROJECT_ID,
                config=body["config"],
                tags=dict(body.get("tags") or {}),
                queue=queue,
                priority=queue_config.get("priority"),
                queue_seq=next(queue.order) if queue else 0,
            )
            self.jobs[job.id] = job
            return job

    def position(self, job: Job) -> int | None:
        """1-based place among the queue's waiting jobs, in the order they will start."""
        if job.queue is None or job.state != "PENDING":
            return None
        waiting = self._waiting(job.queue)
        return waiting.index(job) + 1 if job in waiting else None

    def _waiting(self, queue: JobQueue) -> list[Job]:
        jobs = [j for j in self.jobs.values() if j.queue is queue and j.state == "PENDING"]
        if queue.execution_mode == "LIFO":
            return sorted(jobs, key=lambda j: -j.queue_seq)
        if queue.execution_mode == "PRIORITY":  # 0 is the highest priority
            return sorted(jobs, key=lambda j: (j.priority or 0, j.queue_seq))
        return sorted(jobs, key=lambda j: j.queue_seq)

    def terminate(self, job: Job) -> None:
        with self.lock:
            if job.state in TERMINAL:
                return
            job.terminate_asked = True
            run = job.runs[-1] if job.runs else None
            if run is None or run.process is None:
                job.set_state("TERMINATED")
                if run is not None:
                    run.status, run.finished_at = "STOPPED", now()
                return
            job.set_state("CLEANING_UP")
            self.processes.terminate(run.process)

    # -- the scheduler ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="anyscale-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling, then every run's process (waiting until they are gone)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.processes.stop_all()

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            with self.lock:
                try:
                    self.tick()
                except Stopping:
                    return  # the emulator is stopping: nothing new starts

    def tick(self) -> None:
        for queue in self.queues.values():
            active = sum(
                1
                for j in self.jobs.values()
                if j.queue is queue and j.state not in TERMINAL and j.state != "PENDING"
            )
            if queue.held:
                continue
            for job in self._waiting(queue)[: max(0, queue.max_concurrency - active)]:
                self._await_cluster(job)
        for job in list(self.jobs.values()):
            if job.scripted:
                continue
            if job.state == "PENDING" and job.queue is None:
                self._await_cluster(job)
            elif job.state == "AWAITING_CLUSTER_START" and time.monotonic() >= job.start_at:
                self._start_run(job)
            elif job.state in ("RUNNING", "CLEANING_UP", "RESTARTING") and job.runs:
                self._check_run(job, job.runs[-1])

    def _await_cluster(self, job: Job) -> None:
        job.set_state("AWAITING_CLUSTER_START")
        job.start_at = time.monotonic() + CLUSTER_START_S

    def _start_run(self, job: Job) -> None:
        run = Run(new_id("prodjobrun_"), job.id, f"{job.name}-{len(job.runs) + 1}")
        job.runs.append(run)
        self.runs[run.id] = run
        runtime_env = job.config.get("runtime_env") or {}
        env = {
            **os.environ,
            **{str(k): str(v) for k, v in (runtime_env.get("env_vars") or {}).items()},
        }
        env["ANYSCALE_JOB_ID"] = job.id
        env["ANYSCALE_JOB_RUN_ID"] = run.id
        cwd = self._unpack(job, runtime_env.get("working_dir"), len(job.runs))
        run.process = self.processes.popen(
            ["/bin/sh", "-c", job.config["entrypoint"]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        run.started = time.monotonic()
        run.status = "RUNNING"
        job.set_state("RUNNING")
        threading.Thread(target=_pump, args=(run,), daemon=True).start()

    def _unpack(self, job: Job, uri: str | None, attempt: int) -> Path:
        """The run's folder: the uploaded working_dir unpacked (a zip holding one folder
        runs in that folder, as Ray runs it), else an empty one."""
        cwd = self.workdir / job.id / str(attempt)
        cwd.mkdir(parents=True, exist_ok=True)
        name = (uri or "").rsplit("/", 1)[-1]
        if uri and uri.startswith(BUCKET_URI) and name in self.storage:
            with zipfile.ZipFile(io.BytesIO(self.storage[name])) as archive:
                archive.extractall(cwd)
            inside = list(cwd.iterdir())
            if len(inside) == 1 and inside[0].is_dir():
                return inside[0]
        return cwd

    def _check_run(self, job: Job, run: Run) -> None:
        assert run.process is not None
        timeout = job.config.get("timeout_s")
        code = run.process.poll()
        if code is None:
            if (
                timeout
                and time.monotonic() - run.started > float(timeout)
                and not job.terminate_asked
            ):
                run.write(f"[emulator] job timed out after {timeout} s\n".encode())
                self.processes.terminate(run.process)
            return
        if not run.pumped:
            return  # wait until every line it printed is in its chunks
        run.finished_at = now()
        if job.terminate_asked:
            run.status = "STOPPED"
            job.set_state("TERMINATED")
            return
        if code == 0:
            run.status = "SUCCEEDED"
            job.set_state("SUCCESS")
            return
        run.status = "FAILED"
        error = f"Job entrypoint command failed with exit code {code}"
        retries = int(job.config.get("max_retries") or 0)
        if len(job.runs) <= retries:
            job.set_state("RESTARTING", error)
            self._await_cluster(job)
        else:
            job.set_state("OUT_OF_RETRIES", error)


def _pump(run: Run) -> None:
    assert run.process is not None
    assert run.process.stdout is not None
    for line in iter(run.process.stdout.readline, b""):
        run.write(line)
    run.process.stdout.close()
    run.pumped = True
