"""What measures a real ``airflow triggerer`` from outside and inside its process.

``SITECUSTOMIZE`` goes on the deployment's ``PYTHONPATH`` and acts only in processes started
as ``airflow triggerer``: it counts a platform class's ``statuses()`` calls (telling the status
hub's from any other by the caller's frame) and ``logs()`` reads, and runs a 10 ms ticker on
the trigger runner's loop that records, per second, the worst overshoot with the loop
thread's and the process's CPU during it, the full collections and how many objects are
frozen (``gc.get_freeze_count()``: the provider freezes Airflow's idle heap in the runner).
``StackDumper`` samples the trigger runner's stacks with py-spy; ``tree_rss_mb`` is a
process tree's RSS.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path

import psutil

SITECUSTOMIZE = """
import sys

if any(a == "triggerer" for a in sys.argv):
    import asyncio, json, os, time

    _OUT = os.environ["JOBRELAY_BENCH_PROBE"]

    def _write(record):
        record["pid"] = os.getpid()
        with open(_OUT, "a") as f:
            f.write(json.dumps(record) + "\\n")

    import importlib

    _module, _name = os.environ["JOBRELAY_BENCH_PLATFORM"].split(":")
    Platform = getattr(importlib.import_module(_module), _name)

    _statuses = Platform.statuses
    _logs = Platform.logs
    _calls = [0]
    _log_reads = [0]

    def _from_hub():
        frame = sys._getframe(2)
        for _ in range(4):
            if frame is None:
                return False
            if frame.f_code.co_filename.endswith(os.path.join("jobrelay", "waiting.py")):
                return True
            frame = frame.f_back
        return False

    async def statuses(self, refs):
        started = time.time()
        hub = _from_hub()
        try:
            return await _statuses(self, refs)
        finally:
            _write({"kind": "statuses", "t": started, "refs": len(refs), "hub": hub,
                    "ms": (time.time() - started) * 1000})
            _calls[0] += 1
            if len(refs) == 1 and _calls[0] % 5000 == 1:  # who asks for one job at a time
                import traceback
                _write({"kind": "stack", "t": started, "stack": traceback.format_stack()[-8:]})

    async def logs(self, *args, **kwargs):
        _log_reads[0] += 1
        return await _logs(self, *args, **kwargs)

    Platform.statuses = statuses
    Platform.logs = logs

    import gc

    _gc = {"start": 0.0, "start_cpu": 0.0, "full": 0, "full_ms": 0.0, "full_cpu_ms": 0.0}

    def _collected(phase, info):
        # A collection runs in the thread that set it off: its thread CPU is the collector's
        # own work, the rest of its wall time is waiting for a core.
        if info["generation"] != 2:
            return
        if phase == "start":
            _gc["start"], _gc["start_cpu"] = time.perf_counter(), time.thread_time()
        else:
            _gc["full"] += 1
            _gc["full_ms"] = max(_gc["full_ms"], (time.perf_counter() - _gc["start"]) * 1000)
            _gc["full_cpu_ms"] = max(
                _gc["full_cpu_ms"], (time.thread_time() - _gc["start_cpu"]) * 1000
            )

    gc.callbacks.append(_collected)

    async def _ticker():
        # Per second: the worst overshoot of a 10 ms sleep, the CPU this (the loop's) thread
        # and the whole process used during that worst sleep, and full collections.
        worst = worst_cpu = worst_proc = 0.0
        window = time.monotonic()
        while True:
            before, cpu, proc = time.monotonic(), time.thread_time(), time.process_time()
            await asyncio.sleep(0.01)
            late = time.monotonic() - before - 0.01
            if late > worst:
                worst = late
                worst_cpu = time.thread_time() - cpu
                worst_proc = time.process_time() - proc
            if time.monotonic() - window >= 1.0:
                _write({"kind": "lag", "t": time.time(), "worst_ms": worst * 1000,
                        "worst_loop_cpu_ms": worst_cpu * 1000,
                        "worst_process_cpu_ms": worst_proc * 1000,
                        "full_gcs": _gc["full"], "worst_full_gc_ms": _gc["full_ms"],
                        "worst_full_gc_cpu_ms": _gc["full_cpu_ms"],
                        "logs": _log_reads[0], "frozen": gc.get_freeze_count()})
                worst = worst_cpu = worst_proc = 0.0
                _gc["full"], _gc["full_ms"], _gc["full_cpu_ms"] = 0, 0.0, 0.0
                window = time.monotonic()

    _run = asyncio.run

    def run(main, **kwargs):
        async def probed():
            ticker = asyncio.ensure_future(_ticker())
            try:
                return await main
            finally:
                ticker.cancel()
        return _run(probed(), **kwargs)

    asyncio.run = run
"""


def tree_rss_mb(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


class StackDumper(threading.Thread):
    """``py-spy dump`` of the trigger runner (the triggerer's child) every 0.5 s, to see
    what its loop thread is doing when it stalls."""

    def __init__(self, triggerer_pid: int, out: Path) -> None:
        super().__init__(daemon=True)
        children = psutil.Process(triggerer_pid).children(recursive=True)
        self.pid = max(children, key=lambda c: c.memory_info().rss).pid
        self.out = out
        self.dumps: list[str] = []
        self.stop = threading.Event()
        self.start()

    def run(self) -> None:
        spy = str(Path(sys.executable).with_name("py-spy"))
        while not self.stop.wait(0.5):
            done = subprocess.run(
                [spy, "dump", "--pid", str(self.pid)], capture_output=True, text=True, timeout=30
            )
            self.dumps.append(done.stdout or done.stderr)

    def summary(self) -> None:
        """How often each innermost frame of the loop thread (MainThread) was seen."""
        self.out.write_text("\n\n".join(self.dumps))
        tops: dict[str, int] = {}
        for dump in self.dumps:
            for part in dump.split("\nThread ")[1:]:
                lines = part.splitlines()
                if not lines[0].startswith(f"{self.pid} "):  # the main thread's id is the pid
                    continue
                status = lines[0].split("(", 1)[-1].split(")", 1)[0]
                frames = [line.strip() for line in lines[1:4] if line.strip()]
                key = f"({status}) " + " <- ".join(frames)
                tops[key] = tops.get(key, 0) + 1
        print(
            f"py-spy: {len(self.dumps)} dumps of the trigger runner's loop thread (saved "
            f"to {self.out}); most seen:"
        )
        for key, count in sorted(tops.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {count:4d}  {key}")
