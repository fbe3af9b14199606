"""A real Airflow deployment on loopback: api-server, scheduler, dag-processor and triggerer
as separate processes (LocalExecutor, SQLite), in a home of their own.

Tests drive it as a user does, through the public REST API (trigger a run, clear, mark
failed, read a task's log) and by signalling its processes (restart the triggerer).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

DAGS = Path(__file__).parent / "dags"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowDeployment:
    """Airflow's four long-running components, each its own process (group)."""

    def __init__(self, home: Path, *, connections: dict[str, dict[str, Any]]) -> None:
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = self._environment(connections)
        self._http: httpx.Client | None = None

    def _environment(self, connections: dict[str, dict[str, Any]]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home / "airflow"),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API_AUTH__JWT_SECRET": "jobrelay-deployment-tests-only-" + "0" * 40,
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for conn_id, fields in connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(fields)
        return env

    # -- processes -------------------------------------------------------------------------

    def start(self) -> None:
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        self._airflow("db", "migrate", timeout=300)
        for component in COMPONENTS:
            self.start_component(component)
        self._until(lambda: self._ready(), timeout=180, what="the api-server to answer")
        self._until(
            lambda: self.get("/api/v2/dags/jobrelay_deployment", ok_only=True),
            timeout=180,
            what="the dag-processor to parse the test DAG",
        )

    def start_component(self, component: str) -> None:
        args = [component] + (["--workers", "1"] if component == "api-server" else [])
        with open(self.home / f"{component}.log", "ab") as log:  # the child keeps its own fd
            self.procs[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop_component(self, component: str, sig: signal.Signals = signal.SIGTERM) -> None:
        proc = self.procs.pop(component)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        # The component's children (task supervisors, trigger runner) share its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        for component in list(self.procs):
            self.stop_component(component)
        if self._http is not None:
            self._http.close()

    def component_log(self, component: str) -> str:
        path = self.home / f"{component}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def diagnostics(self) -> str:
        return "\n".join(
            f"--- {c}.log (tail) ---\n{self.component_log(c)[-3000:]}" for c in COMPONENTS
        )

    def _airflow(self, *args: str, timeout: float) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # -- the REST API ----------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            token = httpx.get(f"{self.url}/auth/token", timeout=30).json()["access_token"]
            self._http = httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
        return self._http

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str, *, ok_only: bool = False, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        if ok_only and response.status_code != 200:
            return None
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> None:
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        self.send("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        )
        return result

    def wait_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: set[str],
        *,
        timeout: float = 180,
        try_number: int | None = None,
    ) -> dict[str, Any]:
        """The task instance once it is in one of ``states`` (and at ``try_number``)."""

        def reached() -> dict[str, Any] | None:
            ti = self.task(dag_id, run_id, task_id)
            wanted = try_number is None or ti["try_number"] == try_number
            return ti if ti["state"] in states and wanted else None

        return self._until(reached, timeout=timeout, what=f"{task_id} to be {sorted(states)}")

    def wait_dag(self, dag_id: str, *, timeout: float = 180) -> None:
        """Until the dag-processor has parsed ``dag_id``."""
        self._until(
            lambda: self.get(f"/api/v2/dags/{dag_id}", ok_only=True),
            timeout=timeout,
            what=f"the dag-processor to parse {dag_id}",
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value as the REST API gives it (JSON, not a Python repr)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self.get(path)["value"]
        return json.loads(value) if isinstance(value, str) else value

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        body = {
            "dry_run": False,
            "task_ids": [task_id],
            "dag_run_id": run_id,
            "only_failed": False,
            "reset_dag_runs": True,
        }
        self.send("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)

    def mark(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        self.send("PATCH", path, {"new_state": state})

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        """The task's log for one try as the api-server serves it: one event text a line."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = self.http.get(
            path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        )
        response.raise_for_status()
        lines: list[str] = []
        for entry in response.json().get("content", []):
            if isinstance(entry, dict):
                lines.append(str(entry.get("event", "")))
            else:
                lines.extend(str(entry).splitlines())
        return lines

    def _until(self, check: Callable[[], T | None], *, timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"airflow {name} exited:\n{self.diagnostics()}")
            value = check()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"waited {timeout}s for {what}:\n{self.diagnostics()}")


@contextlib.contextmanager
def running_deployment(
    home: Path, *, connections: dict[str, dict[str, Any]]
) -> Iterator[AirflowDeployment]:
    deployment = AirflowDeployment(home, connections=connections)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
        shutil.rmtree(home / "airflow", ignore_errors=True)
