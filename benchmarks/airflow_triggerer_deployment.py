"""N deferred ``SubmitJobOperator`` tasks in a real Airflow triggerer process.

Unlike ``airflow_triggers.py`` (our own asyncio loop), this starts a real deployment
(``tests/airflow/deployment/airflow_deployment.py``: api-server, scheduler, dag-processor and
triggerer as separate processes, LocalExecutor, SQLite) with a DAG of one task,
``SubmitJobOperator.partial(deferrable=True).expand(entrypoint=...)`` over N map indexes on the
local platform (a queue of concurrency N + 8). Each job waits for a release file, then sleeps
``i % 30`` s and writes its end time; the release comes once all N tasks are deferred, so all
N ``JobTrigger``s run at once in Airflow's own trigger runner.

Measured:

- time to defer: dag run triggered -> all N task instances ``deferred`` (per deferral);
- peak RSS of the triggerer process tree (psutil: the triggerer and its children, i.e. the
  trigger runner) above its idle RSS, while all N are deferred and until they all resume;
- the event loop's worst lag: Airflow's own watchdog warnings ("async thread was blocked")
  from the triggerer's output, and a 10 ms ticker's overshoot on the trigger runner's loop;
- ``statuses()`` calls on the local platform inside the trigger runner and how many jobs
  each asks for (goal: 1 call per status tick for all N);
- detection latency: the end time the job wrote -> its task instance leaves ``deferred``
  (the metadata database, sampled every 0.2 s).

The ticker and the ``statuses()`` counter are installed by a ``sitecustomize`` on the
deployment's ``PYTHONPATH``, only in processes started as ``airflow triggerer``.

    .venv/bin/python benchmarks/airflow_triggerer_deployment.py [--tasks N] [--parallelism P]
        [--defer-timeout S]

After ``--defer-timeout`` seconds (default 1800) of deferring, the jobs are released with
however many tasks are deferred by then; the figures are for those.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.triggerer_probes import SITECUSTOMIZE, StackDumper, tree_rss_mb  # noqa: E402
from tests.airflow.deployment.airflow_deployment import (  # noqa: E402
    COMPONENTS,
    AirflowDeployment,
)

DAG_ID = "jobrelay_triggerer_bench"
TASK_ID = "job"

LOCAL_DAG = """
from datetime import datetime

from airflow.sdk import DAG
from airflow_jobrelay.operators import SubmitJobOperator

JOB = (
    'while [ ! -e {release} ]; do sleep 1; done; '
    'sleep $(($1 % 30)); date +%s.%N > {ends}/$1'
)

with DAG("{dag_id}", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    SubmitJobOperator.partial(
        task_id="{task_id}", deferrable=True, job_queue="bench"
    ).expand(entrypoint=[["sh", "-c", JOB, "sh", str(i)] for i in range({n})])
"""

# W&B: the emulator's agent holds the queue, then runs each item as scripted (0-8 s).
WANDB_DAG = """
from datetime import datetime

from airflow.sdk import DAG
from airflow_jobrelay.operators import SubmitJobOperator

with DAG("{dag_id}", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    SubmitJobOperator.partial(task_id="{task_id}", deferrable=True).expand(
        entrypoint=[["true", str(i)] for i in range({n})]
    )
"""


@dataclass
class Bench:
    """What differs between the platforms under test."""

    platform_class: str  # the class whose statuses() and logs() the probe counts
    connection: dict[str, str]
    dag: str
    release: Callable[[], None]
    job_ends: Callable[[Path], dict[int, float]]  # metadata DB -> map index -> job's end
    close: Callable[[], None]


def local_bench(tmp: Path, n: int) -> Bench:
    home, ends, release = tmp / "platform", tmp / "ends", tmp / "release"
    ends.mkdir()
    asyncio.run(prepare_platform(home, n))

    def job_ends(db: Path) -> dict[int, float]:
        return {int(f.name): float(f.read_text()) for f in ends.iterdir() if f.read_text()}

    def close() -> None:
        from jobrelay_emulators.local_home import stop_local_home

        stop_local_home(home)

    return Bench(
        "jobrelay.platforms.local.platform:LocalPlatform",
        {"conn_type": "jobrelay", "host": f"local://{home}"},
        LOCAL_DAG.format(release=release, ends=ends, dag_id=DAG_ID, task_id=TASK_ID, n=n),
        release.touch,
        job_ends,
        close,
    )


def wandb_bench(tmp: Path, n: int) -> Bench:
    """The W&B emulator in its own process (``airflow_triggers.py --serve-wandb``)."""
    from benchmarks.airflow_triggers import (
        WANDB_QUEUE,
        start_wandb_server,
        stop_wandb_server,
        wandb_run_ends,
    )

    api_key = secrets.token_hex(20)
    ends_file = tmp / "wandb-ends.jsonl"
    server, url = start_wandb_server(ends_file, n, api_key)
    platform = f"wandb://emulator/bench?queue={WANDB_QUEUE}&image=python:3.11&host={url}"

    def release() -> None:
        assert server.stdin is not None
        server.stdin.write("release\n")
        server.stdin.flush()

    def job_ends(db: Path) -> dict[int, float]:
        by_run = wandb_run_ends(ends_file)
        return {i: by_run[run] for i, run in wandb_runs(db).items() if run in by_run}

    def close() -> None:
        stop_wandb_server(server)

    return Bench(
        "jobrelay.platforms.wandb.platform:WandbPlatform",
        {"conn_type": "jobrelay", "host": platform, "password": api_key},
        WANDB_DAG.format(dag_id=DAG_ID, task_id=TASK_ID, n=n),
        release,
        job_ends,
        close,
    )


def wandb_runs(db: Path) -> dict[int, str]:
    """Map index -> the W&B run of its job (the job id the operator pushed is QUEUE:ITEM:RUN)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT map_index, value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ?",
            (DAG_ID, TASK_ID, "jobrelay_job"),
        ).fetchall()
    runs = {}
    for index, value in rows:
        ref = json.loads(value)
        if isinstance(ref, str):  # stored JSON-encoded twice
            ref = json.loads(ref)
        runs[int(index)] = str(ref["id"]).rsplit(":", 1)[1]
    return runs


def ti_states(db: Path) -> dict[int, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT map_index, state FROM task_instance WHERE dag_id = ? AND task_id = ?",
            (DAG_ID, TASK_ID),
        ).fetchall()
    return {int(i): str(s) for i, s in rows}


class Sampler(threading.Thread):
    """RSS of the triggerer tree and the task instances' states, every 0.2 s."""

    def __init__(self, pid: int, db: Path) -> None:
        super().__init__(daemon=True)
        self.pid, self.db = pid, db
        self.rss: list[tuple[float, float]] = []
        self.left_deferred: dict[int, float] = {}
        self.deferred_once: set[int] = set()
        self.deferred_now = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            now = time.time()
            self.rss.append((now, tree_rss_mb(self.pid)))
            try:
                states = ti_states(self.db)
            except sqlite3.Error:
                continue
            self.deferred_now = sum(s == "deferred" for s in states.values())
            for index, state in states.items():
                if state == "deferred":
                    self.deferred_once.add(index)
                elif index in self.deferred_once and index not in self.left_deferred:
                    self.left_deferred[index] = now


def start(deployment: AirflowDeployment) -> None:
    (deployment.home / "airflow").mkdir(parents=True, exist_ok=True)
    deployment._airflow("db", "migrate", timeout=300)
    for component in COMPONENTS:
        deployment.start_component(component)
    deployment._until(deployment._ready, timeout=180, what="the api-server")
    deployment._until(
        lambda: deployment.get(f"/api/v2/dags/{DAG_ID}", ok_only=True),
        timeout=300,
        what="the benchmark DAG",
    )


async def prepare_platform(home: Path, n: int) -> None:
    from jobrelay import AsyncClient, JobSpec

    async with AsyncClient(f"local://{home}") as client:
        await client.run(JobSpec(entrypoint="true"))  # a warm agent
        await client.create_queue("bench", max_concurrency=n + 8)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--platform", choices=["local", "wandb"], default="local")
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--defer-timeout", type=float, default=1800)
    parser.add_argument(
        "--py-spy", action="store_true", help="dump the trigger runner's stacks after release"
    )
    args = parser.parse_args()
    n = args.tasks

    tmp = Path(tempfile.mkdtemp(prefix="jr-triggerer-bench-"))
    dags, probe_dir = tmp / "dags", tmp / "probe"
    for d in (dags, probe_dir):
        d.mkdir()
    probe = tmp / "probe.jsonl"
    (probe_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    bench = (local_bench if args.platform == "local" else wandb_bench)(tmp, n)
    (dags / "bench.py").write_text(bench.dag)

    deployment = AirflowDeployment(tmp / "af", connections={"jobrelay_default": bench.connection})
    deployment.env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(n + 8),
            "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, n)),
            "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "512",
            "AIRFLOW__TRIGGERER__CAPACITY": str(max(1000, n)),
            "PYTHONPATH": f"{probe_dir}:{deployment.env.get('PYTHONPATH', '')}".rstrip(":"),
            "JOBRELAY_BENCH_PROBE": str(probe),
            "JOBRELAY_BENCH_PLATFORM": bench.platform_class,
        }
    )
    db = deployment.home / "airflow.db"
    sampler: Sampler | None = None
    try:
        t0 = time.time()
        start(deployment)
        print(f"deployment up in {time.time() - t0:.0f} s ({tmp})", flush=True)
        trig_pid = deployment.procs["triggerer"].pid
        time.sleep(10)
        idle_mb = 0.0
        for _ in range(5):
            idle_mb = max(idle_mb, tree_rss_mb(trig_pid))
            time.sleep(0.2)
        idle_procs = len(psutil.Process(trig_pid).children(recursive=True)) + 1
        print(f"triggerer idle RSS {idle_mb:.0f} MB ({idle_procs} processes)", flush=True)

        sampler = Sampler(trig_pid, db)
        sampler.start()
        triggered = time.time()
        deployment.trigger(DAG_ID, "bench", {})
        deadline = triggered + args.defer_timeout
        last = -1
        while sampler.deferred_now < n and time.time() < deadline:
            if sampler.deferred_now != last and int(time.time()) % 15 == 0:
                print(f"  {sampler.deferred_now}/{n} deferred", flush=True)
                last = sampler.deferred_now
            time.sleep(0.5)
        all_deferred = time.time()
        deferred_count = sampler.deferred_now
        defer_s = all_deferred - triggered
        print(
            f"{deferred_count}/{n} deferred after {defer_s:.0f} s "
            f"({defer_s / max(deferred_count, 1) * 1000:.0f} ms per deferral)",
            flush=True,
        )
        time.sleep(20)  # all N waiting: the steady state
        released = time.time()
        stacks = Path(tempfile.gettempdir()) / "jr-triggerer-stacks.txt"
        dumper = StackDumper(trig_pid, stacks) if args.py_spy else None
        bench.release()
        wait_until = released + 30 + 30 + 60
        while len(sampler.left_deferred) < deferred_count and time.time() < wait_until:
            time.sleep(0.5)
        time.sleep(2)
        ends = bench.job_ends(db)
        if dumper is not None:
            dumper.stop.set()
            dumper.join()
            dumper.summary()
    finally:
        if sampler is not None:
            sampler.stop.set()
        log = deployment.component_log("triggerer")
        # Kept: the temporary folder goes, and a triggerer that died or restarted says why here.
        saved_log = Path(tempfile.gettempdir()) / f"jr-triggerer-{args.platform}-{n}.log"
        saved_log.write_text(log)
        print(f"triggerer log saved to {saved_log}", flush=True)
        deployment.stop()
        bench.close()

    report(
        n,
        sampler,
        idle_mb,
        log,
        probe,
        ends,
        (triggered, all_deferred, released),
        deferred_count,
        defer_s,
    )
    shutil.rmtree(tmp, ignore_errors=True)


def window_calls(
    name: str,
    begin: float,
    until: float,
    calls: list[dict[str, Any]],
    lags: list[dict[str, Any]],
    runner_pids: set[int],
    deferred: int,
) -> None:
    """``statuses()`` calls (for all jobs: the hub's ticks; for one) and ``logs()`` reads."""
    span = max(until - begin, 1e-9)
    inside = [r for r in calls if begin <= r["t"] < until]
    if not inside:
        print(f"statuses() while {name}: none in {span:.0f} s")
        return
    hub = [r for r in inside if r["hub"]]
    single = [r for r in inside if not r["hub"]]
    reads = [r["logs"] for r in lags if r["pid"] in runner_pids and begin <= r["t"] < until]
    log_reads = reads[-1] - reads[0] if len(reads) > 1 else 0
    print(
        f"statuses() while {name} ({span:.0f} s): {len(inside)} calls "
        f"({len(inside) / span:.2f}/s); for many jobs (status-hub ticks): {len(hub)}, jobs "
        f"per call median {statistics.median(r['refs'] for r in hub) if hub else 0:.0f}, "
        f"call median {statistics.median(r['ms'] for r in hub) if hub else 0:.1f} ms; "
        f"not from the hub: {len(single)} ({len(single) / span / max(deferred, 1):.2f}/s per job); "
        f"logs() reads {log_reads} ({log_reads / span / max(deferred, 1):.2f}/s per job)"
    )


def report(
    n: int,
    sampler: Sampler | None,
    idle_mb: float,
    log: str,
    probe: Path,
    ends: dict[int, float],
    times: tuple[float, float, float],  # dag run triggered, all deferred, jobs released
    deferred_count: int,
    defer_s: float,
) -> None:
    assert sampler is not None
    triggered, all_deferred, released = times
    window = [mb for t, mb in sampler.rss if t >= all_deferred]
    peak = max(window) if window else float("nan")
    overall = max(mb for _, mb in sampler.rss)
    lines = probe.read_text().splitlines() if probe.exists() else []
    records = [json.loads(line) for line in lines]
    calls = [r for r in records if r["kind"] == "statuses"]
    lags = [r for r in records if r["kind"] == "lag"]
    runner_pids = {r["pid"] for r in calls}
    runner_lags = [r for r in lags if r["pid"] in runner_pids or not runner_pids]
    blocked = [float(x) for x in re.findall(r"async thread was blocked for ([0-9.]+)", log)]

    latencies = [
        (left - ends[index]) * 1000
        for index, left in sampler.left_deferred.items()
        if index in ends
    ]

    print(f"\n== {n} mapped deferred SubmitJobOperator tasks, one real triggerer ==")
    print(
        f"deferred together: {deferred_count}/{n}; to defer: {defer_s:.0f} s "
        f"({defer_s / max(deferred_count, 1) * 1000:.0f} ms per deferral)"
    )
    print(
        f"triggerer tree RSS: idle {idle_mb:.0f} MB, peak while deferred {peak:.0f} MB "
        f"(+{peak - idle_mb:.0f} MB), peak over the run {overall:.0f} MB"
    )
    resumed = max(sampler.left_deferred.values(), default=released)
    windows = {
        "all deferred, jobs held": (all_deferred, released),
        "released until the last resumed": (released, resumed),
    }
    for name, (begin, until) in windows.items():
        window_calls(name, begin, until, calls, lags, runner_pids, deferred_count)
    print(f"statuses() calls in the trigger runner over the whole run: {len(calls)}")
    phases = {
        "idle (before the dag run)": (0.0, triggered),
        "deferring": (triggered, all_deferred),
        "all deferred, jobs held": (all_deferred, released),
        "released until the last resumed": (released, resumed),
    }
    worst = {
        name: max((r["worst_ms"] for r in runner_lags if a <= r["t"] < b), default=float("nan"))
        for name, (a, b) in phases.items()
    }
    print(
        "trigger runner loop (10 ms ticker), worst lag: "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in worst.items())
    )
    for name, (a, b) in phases.items():
        inside = [r for r in runner_lags if a <= r["t"] < b]
        if not inside:
            continue
        top = max(inside, key=lambda r: r["worst_ms"])
        over = [r for r in inside if r["worst_ms"] > 100]
        print(
            f"  {name}: {len(over)} of {len(inside)} seconds had a stall > 100 ms; the worst "
            f"({top['worst_ms']:.0f} ms): loop thread CPU {top['worst_loop_cpu_ms']:.0f} ms, "
            f"process CPU {top['worst_process_cpu_ms']:.0f} ms; full collections "
            f"{sum(r['full_gcs'] for r in inside)}, longest "
            f"{max(r['worst_full_gc_ms'] for r in inside):.0f} ms (most CPU in one: "
            f"{max(r.get('worst_full_gc_cpu_ms', 0) for r in inside):.0f} ms); objects frozen "
            f"{max(r.get('frozen', 0) for r in inside):,}"
        )
    if runner_lags and runner_lags[-1]["t"] < resumed - 5:
        print(
            f"the trigger runner's probe stopped {resumed - runner_lags[-1]['t']:.0f} s before "
            f"the end (runner pids {sorted(runner_pids)}): see the saved triggerer log"
        )
    print(
        f"Airflow watchdog 'async thread was blocked' warnings: {len(blocked)}"
        + (f", worst {max(blocked):.2f} s" if blocked else "")
    )
    if latencies:
        print(
            f"detection (job's end -> TI leaves deferred, {len(latencies)} jobs): median "
            f"{statistics.median(latencies):.0f} ms, p90 {pct(latencies, 0.9):.0f} ms, "
            f"max {max(latencies):.0f} ms"
        )
    else:
        print("detection: no job ended and resumed in the window")


if __name__ == "__main__":
    main()
