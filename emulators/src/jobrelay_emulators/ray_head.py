"""Start and stop a real single-node Ray head on loopback, for tests and benchmarks.

Uses the ``ray`` command line of the current environment (``ray[default]``); nothing here
imports ray. The recipe follows ``reference/ray.md`` (variant B): ``ray start --head
--block`` as a child in its own session, every port randomised, every socket on 127.0.0.1,
and a SIGTERM to that child (then SIGKILL to its process group) to stop it.

>>> with RayHead.start() as head:                                  # doctest: +SKIP
...     head.platform_url
'ray://127.0.0.1:41234'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = ["RayHead", "RayHeadError"]

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


class RayHeadError(RuntimeError):
    """The Ray head could not be started."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ray_executable() -> Path:
    """The ``ray`` script next to this interpreter (the test venv), else on PATH."""
    beside = Path(sys.executable).parent / "ray"
    if beside.exists():
        return beside
    found = shutil.which("ray")
    if found is None:
        raise RayHeadError("the `ray` command is not installed; `uv sync` installs ray[default]")
    return Path(found)


def head_environment(
    *, bin_dir: Path, autoscaler_port: int, dashboard_metric_port: int
) -> dict[str, str]:
    """The environment of ``ray start``; jobs inherit its PATH and cwd."""
    env = {
        k: v
        for k, v in os.environ.items()
        # Inside a job these point at another cluster; the CLI would prefer them.
        if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")
    }
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            # Without this, Linux Ray binds 0.0.0.0 and advertises the eth0 address.
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            # SIGTERM would otherwise drain running jobs for up to 30 s.
            "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
            # A job Ray cannot schedule fails after this instead of after 15 minutes; not
            # shorter: on 2 cores, 8 supervisor actors queue ~15 s for a worker process.
            "RAY_JOB_START_TIMEOUT_SECONDS": "60",
            "AUTOSCALER_METRIC_PORT": str(autoscaler_port),
            "DASHBOARD_METRIC_PORT": str(dashboard_metric_port),
            # Under `uv run`, Ray's own drivers (the dashboard agent) would package their
            # cwd as a working_dir for every job: with the temp dir inside it, that zip
            # grows without end. jobrelay uploads working dirs itself.
            "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
            "PYTHONUNBUFFERED": "1",
            # Every job needs a fresh worker for its supervisor actor; Ray starts only
            # num_cpus (2) at a time, so 8 concurrent jobs queued ~50 s (measured 22 s
            # with 8).
            "RAY_worker_maximum_startup_concurrency": "8",
        }
    )
    return env


@dataclass
class RayHead:
    """A running Ray head started by :meth:`start`; :meth:`stop` ends it and its children."""

    process: subprocess.Popen[bytes]
    dashboard_port: int
    gcs_port: int
    temp_dir: Path
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def dashboard_url(self) -> str:
        """``http://127.0.0.1:<port>``, the address Ray's own CLI takes."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def platform_url(self) -> str:
        """The jobrelay platform URL of this head: ``ray://127.0.0.1:<port>``."""
        return f"ray://127.0.0.1:{self.dashboard_port}"

    @classmethod
    def start(
        cls,
        *,
        num_cpus: int = 2,
        object_store_mb: int = 200,
        timeout_s: float = START_TIMEOUT_S,
        extra_env: dict[str, str] | None = None,
    ) -> RayHead:
        """Start a head and return once ``GET /api/jobs/`` answers 200.

        Raises ``RayHeadError`` (with the tail of Ray's output) if it does not come up.
        """
        ray = ray_executable()
        gcs, dash, agent, client, autoscaler, dash_metric = free_ports(6)
        # Ray appends ~62 characters to build AF_UNIX paths (limit 107): keep this short.
        temp_dir = Path(tempfile.mkdtemp(prefix="jr-ray-", dir="/tmp"))
        log_path = temp_dir.with_name(temp_dir.name + ".log")
        env = head_environment(
            bin_dir=ray.parent,
            autoscaler_port=autoscaler,
            dashboard_metric_port=dash_metric,
        )
        env.update(extra_env or {})
        argv = [
            str(ray), "start", "--head", "--block",
            "--node-ip-address", "127.0.0.1",
            "--port", str(gcs),
            "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(dash),
            "--dashboard-agent-listen-port", str(agent),
            "--include-dashboard", "true",
            "--ray-client-server-port", str(client),
            "--num-cpus", str(num_cpus),
            "--object-store-memory", str(object_store_mb * 1024 * 1024),
            "--disable-usage-stats",
            "--temp-dir", str(temp_dir),
        ]  # fmt: skip
        # Jobs without a working_dir run in ray start's cwd: an empty folder of their own.
        job_cwd = temp_dir / "cwd"
        job_cwd.mkdir()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=job_cwd,
                start_new_session=True,
            )
        head = cls(process, dash, gcs, temp_dir, log_path, env)
        try:
            head._wait_ready(timeout_s)
        except BaseException:
            head.stop()
            raise
        return head

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"{self.dashboard_url}/api/jobs/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RayHeadError(
                    f"`ray start` exited with {self.process.returncode}:\n{self.output_tail()}"
                )
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise RayHeadError(
            f"Ray head not ready at {url} after {timeout_s:g}s:\n{self.output_tail()}"
        )

    def output_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the head, wait, then SIGKILL its process group; remove its temp dir."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout_s)
        # Ray's daemons share the head's session and process group: none may outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def __enter__(self) -> RayHead:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
