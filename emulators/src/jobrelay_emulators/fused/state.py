"""What the Fused emulator knows: jobs, and a thread per job that runs its UDF for real.

Each UDF call (one per input) runs ``runner.py`` in a subprocess of its own process group,
started through the emulator's :class:`~jobrelay_emulators.processes.ProcessGroups`; every
line it prints becomes a log record ``{message, timestamp}`` stamped with the
emulator's clock in epoch milliseconds. States move as on Fused: the instance is
``pending``, then ``running``, then ``terminated``; the job's ``job_status`` goes
``Pending`` → ``Running`` → ``Done`` / ``Failed`` / ``Canceled``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobrelay_emulators.processes import ProcessGroups, Stopping

__all__ = ["RUNNER", "TERMINAL", "Job", "World"]

RUNNER = Path(__file__).with_name("runner.py")
TERMINAL = frozenset({"Done", "Failed", "Canceled"})
USER_ID = "usr_emulator"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Job:
    """One batch job and what its UDF calls printed and returned."""

    id: str
    name: str
    body: dict[str, Any]
    query: dict[str, str]
    created: str = field(default_factory=now_iso)
    status: str = "pending"  # the instance
    job_status: str = "Pending"
    job_status_date: str = field(default_factory=now_iso)
    total_tasks: int = 1
    finished_tasks: int = 0
    logs: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, bytes] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    scripted: bool = False
    seq: int = 0

    @property
    def step(self) -> dict[str, Any]:
        return dict(self.body["config"]["steps"][0])

    @property
    def inputs(self) -> list[Any]:
        given = self.step.get("input")
        return list(given) if isinstance(given, list) else [None]

    def set(self, status: str, job_status: str) -> None:
        if (self.status, self.job_status) != (status, job_status):
            self.status, self.job_status = status, job_status
            self.job_status_date = now_iso()

    def run_response(self) -> dict[str, Any]:
        finished = self.job_status in TERMINAL
        return {
            "job_id": self.id,
            "job_name": self.name,
            "instance_id": None if self.status == "pending" else f"i-{self.id[:8]}",
            "instance_type": self.query.get("instance_type"),
            "status": self.status,
            "terminal_status": self.status == "terminated",
            "last_heartbeat": self.job_status_date,
            "job_status": self.job_status,
            "job_status_date": self.job_status_date,
            "finished_job_status": finished,
            "total_tasks": self.total_tasks,
            "finished_tasks": self.finished_tasks,
        }

    def job_response(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": USER_ID,
            "creation_date": self.created,
            "job_status": self.job_status,
            "job_status_date": self.job_status_date,
            "instance_id": None if self.status == "pending" else f"i-{self.id[:8]}",
            "instance_type": self.query.get("instance_type"),
            "execution_environment_id": "env_emulator",
        }


class World:
    """Every job, guarded by one lock; ``clock`` stamps log records (a test may stop it).

    ``pending_s`` is how long a new job's instance stays ``pending``. UDF calls start through
    ``processes`` (a new :class:`ProcessGroups` by default).
    """

    def __init__(
        self, workdir: Path, *, pending_s: float = 0.05, processes: ProcessGroups | None = None
    ) -> None:
        self.workdir = workdir
        self.processes = processes if processes is not None else ProcessGroups()
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.order = itertools.count()
        self.clock: Callable[[], int] = wall_clock_ms
        self.pending_s = pending_s
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start_job(self, body: dict[str, Any], query: dict[str, str]) -> Job:
        config = body.get("config")
        if not isinstance(config, dict) or not config.get("steps"):
            raise ValueError("config.steps is required")
        step = config["steps"][0]
        if step.get("type") != "udf" or not isinstance(step.get("udf"), dict):
            raise ValueError("the step must be a udf step")
        if not step["udf"].get("code"):
            raise ValueError("udf.code is required")
        job_id = str(uuid.uuid4())
        job = Job(job_id, str(config.get("name") or f"job-{job_id[:8]}"), body, query)
        job.total_tasks = len(job.inputs)
        job.seq = next(self.order)
        self.jobs[job_id] = job
        thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=job_id[:8])
        self._threads.append(thread)
        thread.start()
        return job

    def record(self, job: Job, message: str) -> None:
        with self.lock:
            job.logs.append({"message": message, "timestamp": self.clock()})

    def cancel(self, job: Job) -> None:
        with self.lock:
            if job.job_status in TERMINAL:
                return
            job.set("terminated", "Canceled")
            process = job.process
        if process is not None:
            self.kill(process)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a UDF call's process group (as Fused stops an instance) and reap it."""
        self.processes.terminate(process, grace_s=0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)

    def stop(self) -> None:
        """Cancel every job, stop every UDF call (waiting until they are gone), then the
        jobs' threads."""
        self._stopping.set()
        with self.lock:
            for job in self.jobs.values():
                if job.job_status not in TERMINAL:
                    job.set("terminated", "Canceled")
        self.processes.stop_all()
        for thread in self._threads:
            thread.join(5)

    # -- the batch instance ----------------------------------------------------------------

    def _active(self, job: Job) -> bool:
        with self.lock:
            return job.job_status not in TERMINAL and not job.scripted

    def _run(self, job: Job) -> None:
        time.sleep(self.pending_s)
        with self.lock:
            if not self._active(job):
                return
            job.set("running", "Running")
        outdir = self.workdir / job.id
        outdir.mkdir(parents=True, exist_ok=True)
        for index, value in enumerate(job.inputs):
            if not self._active(job) or self._stopping.is_set():
                return
            code = self._call(job, index, value, outdir)
            with self.lock:
                if not self._active(job):
                    return
                if code != 0:
                    job.logs.append(
                        {
                            "message": f"ERROR: UDF call {index} failed (exit code {code})",
                            "timestamp": self.clock(),
                        }
                    )
                    job.set("terminated", "Failed")
                    return
                job.finished_tasks += 1
                for path in sorted(outdir.iterdir()):
                    job.results.setdefault(path.name, path.read_bytes())
        with self.lock:
            if self._active(job):
                job.set("terminated", "Done")

    def _call(self, job: Job, index: int, value: Any, outdir: Path) -> int:
        step = job.step
        udf = step["udf"]
        call = {
            "code": udf["code"],
            "entrypoint": udf.get("entrypoint") or "udf",
            "parameters": udf.get("parameters") or {},
            "input": value,
            "index": index,
            "has_input": step.get("input") is not None,
        }
        spec = outdir / f".call-{index}.json"
        spec.write_text(json.dumps(call))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for item in job.body.get("additional_env") or []:
            name, _, text = str(item).partition("=")
            env[name] = text
        with self.lock:
            if not self._active(job):
                return 0
            try:
                process = self.processes.popen(
                    [sys.executable, "-u", str(RUNNER), str(spec), str(outdir)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=outdir,
                    env=env,
                )
            except Stopping:
                return 0  # the emulator is stopping: stop() has marked the job Canceled
            job.process = process
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                self.record(job, raw.decode("utf-8", "replace").rstrip("\n"))
        code = process.wait()
        spec.unlink(missing_ok=True)
        return code
