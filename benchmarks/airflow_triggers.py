"""1,000 deferred ``JobTrigger``s on one event loop, as a triggerer runs them.

Each trigger waits on its own job, on one of two platforms:

- ``local``: ``true`` through a queue of concurrency 2, so most wait a while in the queue;
- ``wandb``: the W&B emulator, served from a separate process (a hosted platform is not in
  the triggerer's process). Its launch agent holds the queue until every trigger waits, then
  claims all items; each run is scripted to finish after 0-8 s (the agent does not execute
  ``true``: its executing path polls each local job every 50 ms, and 1,000 of those saturate
  the emulator's process, not the triggerer).

The triggers are made as ``JobOperator`` defers them (``follow_logs=True``, ``waiting_since``);
``--no-logs`` makes status-only triggers. Measured, in this one process: platform
``statuses()`` calls per status-hub tick (goal 1) and ``logs()`` calls, the event loop's
worst lag (a 10 ms ticker's overshoot; goal <= 100 ms), peak RSS above idle (goal <= 300 MB),
and detection latency (a job's end on the platform -> its trigger's event; median and p90).
Each target runs in a fresh process, so peak RSS is its own.

    uv run python benchmarks/airflow_triggers.py [--target local|wandb|both] [--triggers N]
        [--no-logs] [--stalls] [--gc-freeze]

``--stalls`` also times every loop callback and prints where the slowest loop iterations'
time went (see ``LoopProfile``); ``--gc-freeze`` calls ``gc.freeze()`` on the idle heap first.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WANDB_QUEUE = "bench"
WANDB_RUN_SECONDS = 8.0  # scripted runs finish after uniform(0, this) seconds
STALL_S = 0.05


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- where the loop stalls --------------------------------------------------------------


@dataclass
class LoopProfile:
    """Where each slow loop iteration's time went: every callback's wall and loop-thread CPU
    time, summed per iteration (between two ``select()`` calls), and how late ``select()``
    handed control back. Loop-thread CPU is the loop's own work; wall minus it is waiting for
    the GIL (other threads of the process computing) or for a CPU (other processes)."""

    iterations: list[dict[str, Any]] = field(default_factory=list)
    _now: dict[str, Any] = field(default_factory=dict)
    _loop_thread: int = 0
    collections: list[tuple[int, float]] = field(default_factory=list)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        handle_run = asyncio.events.Handle._run
        selector = loop._selector  # type: ignore[attr-defined]
        select = selector.select
        self._begin(0.0)
        gc_began: list[float] = [0.0]  # collections never overlap: they hold the GIL

        def gc_timed(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_began[0] = time.thread_time()
            else:  # a collection holds the GIL, whichever thread it runs in
                took = time.thread_time() - gc_began[0]
                on_loop = threading.get_ident() == self._loop_thread
                self._now["gc"] += took
                self._now["gc_gens"].append(f"{info['generation']}{'' if on_loop else ' (worker)'}")
                self.collections.append((info["generation"], took))

        self._loop_thread = threading.get_ident()
        gc.callbacks.append(gc_timed)

        def timed_run(handle: asyncio.events.Handle) -> None:
            task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
            before = _innermost(task)
            cpu = time.thread_time()
            handle_run(handle)
            took = time.thread_time() - cpu
            key = f"{before} -> {_innermost(task)}"
            self._now["callbacks"] += 1
            self._now["cpu_by"][key] = self._now["cpu_by"].get(key, 0.0) + took

        def timed_select(timeout: float | None = None) -> Any:
            self._end()
            began = time.perf_counter()
            events = select(timeout)
            self._begin(time.perf_counter() - began - (timeout or 0.0))
            return events

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        selector.select = timed_select

    def _begin(self, select_late: float) -> None:
        self._now = {
            "at": time.perf_counter(),
            "cpu": time.thread_time(),
            "proc": time.process_time(),
            "select_late": max(0.0, select_late),
            "callbacks": 0,
            "cpu_by": {},
            "gc": 0.0,
            "gc_gens": [],
        }

    def _end(self) -> None:
        now = self._now
        wall = time.perf_counter() - now["at"]
        if wall + now["select_late"] > STALL_S:
            cpu_by = sorted(now["cpu_by"].items(), key=lambda kv: -kv[1])[:4]
            self.iterations.append(
                {
                    **now,
                    "wall": wall,
                    "cpu": time.thread_time() - now["cpu"],
                    "proc": time.process_time() - now["proc"],
                    "cpu_by": cpu_by,
                }
            )

    def report(self, t0: float, worst: int = 6) -> None:
        its = sorted(self.iterations, key=lambda i: -(i["wall"] + i["select_late"]))
        print(f"loop iterations over {STALL_S * 1000:.0f} ms (incl. a late select): {len(its)}")
        for it in its[:worst]:
            print(
                f"  at {it['at'] - t0:.2f} s: select {it['select_late'] * 1000:.0f} ms late, "
                f"then {it['callbacks']} callbacks in {it['wall'] * 1000:.0f} ms; CPU: loop "
                f"thread {it['cpu'] * 1000:.0f} ms, garbage collection "
                f"{it['gc'] * 1000:.0f} ms (generations {it['gc_gens']}), all threads "
                f"{it['proc'] * 1000:.0f} ms"
            )
            for key, cpu in it["cpu_by"]:
                print(f"    {cpu * 1000:6.1f} ms  {key}")
        heavy = max((i["cpu"] for i in self.iterations), default=0.0)
        print(f"  most loop-thread CPU in one slow iteration: {heavy * 1000:.0f} ms")
        for gen in (0, 1, 2):
            took = [t for g, t in self.collections if g == gen]
            if took:
                print(
                    f"  garbage collections of generation {gen} (any thread): {len(took)},"
                    f" longest {max(took) * 1000:.1f} ms, total {sum(took) * 1000:.0f} ms"
                )


def _innermost(task: object) -> str:
    """The function a task is suspended in (or ``done``); for a plain callback, its name."""
    if not isinstance(task, asyncio.Task):
        return type(task).__name__
    coro: Any = task.get_coro()
    frame = None
    while coro is not None:
        if hasattr(coro, "cr_frame"):
            frame, coro = coro.cr_frame, coro.cr_await
        elif hasattr(coro, "ag_frame"):
            frame, coro = coro.ag_frame, coro.ag_await
        elif frame is not None:  # an async generator's asend: the generator is a local
            coro = next((v for v in frame.f_locals.values() if hasattr(v, "ag_await")), None)
        else:
            break
    if frame is None:
        return f"{task.get_name()} done"
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"


async def lag_monitor(stop: asyncio.Event, worst: list[float]) -> None:
    """``worst``: [worst overshoot of a 10 ms sleep, when it happened (perf_counter), the
    loop thread's CPU time in that sleep]."""
    while not stop.is_set():
        began, cpu, proc = time.perf_counter(), time.thread_time(), time.process_time()
        await asyncio.sleep(0.01)
        lag = time.perf_counter() - began - 0.01
        if lag > worst[0]:
            worst[:] = [lag, began, time.thread_time() - cpu, time.process_time() - proc]


# -- targets ----------------------------------------------------------------------------


@dataclass
class Target:
    """Where the jobs run: the connection's fields and how the jobs are made."""

    name: str
    conn: dict[str, Any]
    submit: Any  # async (count) -> list of job refs as dicts
    release: Any = None  # async () -> None: let the platform start the jobs
    ends: Any = None  # () -> {job id: when it ended (epoch s)}, when ended_at is too coarse


@asynccontextmanager
async def local_target(tmp: Path) -> AsyncIterator[Target]:
    from jobrelay import AsyncClient, JobSpec
    from jobrelay_emulators.local_home import stop_local_home

    home = tmp / "home"

    async def submit(count: int) -> list[dict[str, Any]]:
        async with AsyncClient(f"local://{home}") as setup:
            await setup.run(JobSpec(entrypoint="true"))  # a warm agent; not measured
            await setup.create_queue("bench", max_concurrency=2)
            return [
                (await setup.submit(JobSpec(entrypoint=["true"], queue="bench"))).model_dump(
                    mode="json"
                )
                for _ in range(count)
            ]

    try:
        yield Target("local", {"conn_type": "jobrelay", "host": f"local://{home}"}, submit)
    finally:
        stop_local_home(home)


@asynccontextmanager
async def wandb_target(tmp: Path, count: int) -> AsyncIterator[Target]:
    from jobrelay import AsyncClient, JobSpec

    api_key = secrets.token_hex(20)
    ends_file = tmp / "wandb-ends.jsonl"
    server, url = await asyncio.to_thread(start_wandb_server, ends_file, count, api_key)
    platform = f"wandb://emulator/bench?queue={WANDB_QUEUE}&image=python:3.11&host={url}"

    async def submit(count: int) -> list[dict[str, Any]]:
        async with AsyncClient(platform, credential=api_key) as setup:
            return [
                (await setup.submit(JobSpec(entrypoint=["true"]))).model_dump(mode="json")
                for _ in range(count)
            ]

    async def release() -> None:
        assert server.stdin is not None
        server.stdin.write("release\n")
        server.stdin.flush()

    def ends() -> dict[str, float]:
        return wandb_run_ends(ends_file)

    try:
        yield Target(
            "wandb",
            {"conn_type": "jobrelay", "host": platform, "password": api_key},
            submit,
            release,
            ends,
        )
    finally:
        stop_wandb_server(server)


def stop_wandb_server(server: subprocess.Popen[str]) -> None:
    """End of input: the emulator process stops (killed after 20 s)."""
    if server.stdin is not None:
        server.stdin.close()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def wandb_run_ends(ends_file: Path) -> dict[str, float]:
    """Run name -> the time the emulator process ended it (``serve_wandb`` records them)."""
    by_run = {}
    for line in ends_file.read_text().splitlines():
        record = json.loads(line)
        by_run[record["run"]] = record["at"]
    return by_run


def start_wandb_server(
    ends_file: Path, count: int, api_key: str
) -> tuple[subprocess.Popen[str], str]:
    """The emulator process (``serve_wandb``) and its URL, once it serves."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-wandb", str(ends_file), "--triggers", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BENCH_WANDB_API_KEY": api_key},
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        server.kill()
        raise RuntimeError(f"the W&B emulator did not start: {url!r}")
    return server, url


def serve_wandb(ends_file: Path, count: int) -> None:
    """The emulator process: hold the queue, script ``count`` runs, record each run's end."""
    from jobrelay_emulators.wandb import Outcome, WandbEmulator

    emulator = WandbEmulator(api_key=os.environ["BENCH_WANDB_API_KEY"])
    emulator.create_queue(WANDB_QUEUE)
    emulator.agent.hold(WANDB_QUEUE)
    rng = random.Random(12)
    for _ in range(count):
        emulator.script(Outcome(duration_s=rng.uniform(0, WANDB_RUN_SECONDS)), queue=WANDB_QUEUE)
    finish = emulator.world.finish_run
    ends = ends_file.open("a", buffering=1)

    def finish_recorded(run: Any, state: str, exitcode: int | None = None) -> None:
        finish(run, state, exitcode)  # heartbeatAt, the run's end, has 1 s resolution
        ends.write(json.dumps({"run": run.name, "at": time.time()}) + "\n")

    emulator.world.finish_run = finish_recorded  # type: ignore[method-assign]
    emulator.start()
    print(emulator.url, flush=True)
    for line in sys.stdin:  # "release", then end of input: stop
        if line.strip() == "release":
            emulator.agent.release(WANDB_QUEUE)
    emulator.stop()
    ends.close()


# -- the measurement --------------------------------------------------------------------


async def measure(target: Target, count: int, stalls: bool, freeze: bool, follow: bool) -> None:
    from airflow_jobrelay.triggers import JobTrigger
    from jobrelay import JobRef, JobStatus

    idle = peak_rss_mb()
    if stalls:  # what one full collection of the idle process's heap costs
        began = time.thread_time()
        gc.collect()
        print(
            f"idle heap: {len(gc.get_objects())} tracked objects; a full garbage collection "
            f"takes {(time.thread_time() - began) * 1000:.0f} ms"
        )
    if freeze:  # what a triggerer that froze its start-up heap would see
        gc.freeze()
    refs = await target.submit(count)
    since = datetime.now(UTC).isoformat()
    triggers = [  # with follow_logs and waiting_since, as JobOperator defers
        JobTrigger(job=ref, jobrelay_conn_id="jr_bench", follow_logs=follow, waiting_since=since)
        for ref in refs
    ]
    client = await triggers[0]._client()  # the one client every trigger of this conn shares
    platform = await client.platform()
    calls: list[int] = []
    real = platform.statuses

    took: list[float] = []
    first_tick = asyncio.Event()

    async def counted(batch: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        calls.append(len(batch))
        began = time.perf_counter()
        try:
            return await real(batch)
        finally:
            took.append(time.perf_counter() - began)
            first_tick.set()

    platform.statuses = counted  # type: ignore[method-assign,assignment]
    log_calls: list[float] = []
    real_logs = platform.logs

    async def counted_logs(ref: JobRef, cursor: str | None) -> Any:
        log_calls.append(time.perf_counter())
        return await real_logs(ref, cursor)

    platform.logs = counted_logs  # type: ignore[method-assign]
    hub = await client.status_hub()
    ticks_before = hub.ticks
    profile = LoopProfile() if stalls else None
    if profile is not None:
        profile.install(asyncio.get_running_loop())
    stop, worst = asyncio.Event(), [0.0, 0.0, 0.0, 0.0]
    monitor = asyncio.create_task(lag_monitor(stop, worst))
    seen: dict[str, tuple[datetime, JobStatus]] = {}
    started = datetime.now(UTC)

    async def run_one(trigger: JobTrigger) -> str:
        events = trigger.run()  # a local, so LoopProfile can see inside it
        async for event in events:
            status = JobStatus.model_validate(event.payload["status"])
            seen[status.ref.id] = (datetime.now(UTC), status)
            return str(event.payload["outcome"])
        raise AssertionError("no event")

    async def release_once_watched() -> None:
        await first_tick.wait()  # every trigger is watched: the jobs may start
        await target.release()

    t0 = time.perf_counter()
    releasing = asyncio.create_task(release_once_watched()) if target.release else None
    outcomes = await asyncio.gather(*(run_one(t) for t in triggers))
    elapsed = time.perf_counter() - t0
    stop.set()
    await monitor
    if releasing is not None:
        await releasing
    ticks = hub.ticks - ticks_before
    assert outcomes.count("succeeded") == count, Counter(outcomes)
    latencies = sorted(_latencies(seen, started, target.ends() if target.ends else None))
    logs = "following their job's log" if follow else "not following logs"
    print(f"[{target.name}] triggers: {count} ({logs}), all succeeded in {elapsed:.1f} s")
    print(f"hub ticks: {ticks}, statuses() calls: {len(calls)}, per tick: {len(calls) / ticks:.2f}")
    print(f"logs() calls: {len(log_calls)} ({len(log_calls) / count:.1f} per job)")
    print(
        f"largest call: {max(calls)} jobs; a call took median "
        f"{statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms"
    )
    print(
        f"worst event-loop lag: {worst[0] * 1000:.0f} ms, {worst[1] - t0:.1f} s after the "
        f"triggers started (CPU in it: loop thread {worst[2] * 1000:.0f} ms, all threads "
        f"{worst[3] * 1000:.0f} ms)"
        "   goal <= 100 ms"
    )
    print(
        f"peak RSS: {peak_rss_mb():.0f} MB, {peak_rss_mb() - idle:.0f} MB above idle   goal <= 300"
    )
    print(
        f"detection latency: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p90 {latencies[int(len(latencies) * 0.9)] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms ({len(latencies)} jobs that ended while watched)"
    )
    if profile is not None:
        profile.report(t0)
    await client.aclose()


def _latencies(
    seen: Mapping[str, tuple[datetime, Any]], started: datetime, ends: Mapping[str, float] | None
) -> list[float]:
    """Seconds from each job's end to its trigger's event, for jobs that ended while watched.

    ``ends`` (run name -> epoch seconds) replaces a platform's coarse ``ended_at``."""
    out = []
    for job_id, (detected, status) in seen.items():
        if ends is not None:
            at = ends.get(job_id.rsplit(":", 1)[-1])
            ended = None if at is None else datetime.fromtimestamp(at, UTC)
        else:
            ended = status.ended_at
        if ended is not None and ended > started:
            out.append((detected - ended).total_seconds())
    return out


async def main(
    target_name: str, count: int, stalls: bool, freeze: bool, follow: bool, tmp: Path
) -> None:
    if target_name == "local":
        async with local_target(tmp) as target:
            os.environ["AIRFLOW_CONN_JR_BENCH"] = json.dumps(target.conn)
            await measure(target, count, stalls, freeze, follow)
    else:
        async with wandb_target(tmp, count) as target:
            os.environ["AIRFLOW_CONN_JR_BENCH"] = json.dumps(target.conn)
            await measure(target, count, stalls, freeze, follow)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=["local", "wandb", "both"], default="both")
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--stalls", action="store_true", help="sample where the loop stalls")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() the idle heap before the triggers"
    )
    parser.add_argument(
        "--no-logs", action="store_true", help="triggers that do not follow the job's log"
    )
    parser.add_argument("--serve-wandb", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_wandb is not None:
        serve_wandb(args.serve_wandb, args.triggers)
    elif args.target == "both":  # each in a fresh process: peak RSS is a process's own
        for name in ("local", "wandb"):
            argv = [sys.executable, __file__, "--target", name, "--triggers", str(args.triggers)]
            flags = ["--stalls"] * args.stalls + ["--gc-freeze"] * args.gc_freeze
            flags += ["--no-logs"] * args.no_logs
            subprocess.run(argv + flags, check=True)
    else:
        with tempfile.TemporaryDirectory(prefix="jrbench-triggers-") as tmp:
            os.environ.setdefault("AIRFLOW_HOME", str(Path(tmp) / "airflow"))
            options = (args.stalls, args.gc_freeze, not args.no_logs)
            asyncio.run(main(args.target, args.triggers, *options, Path(tmp)))
