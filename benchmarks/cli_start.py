"""CLI start-up: `jobrelay ls` / `logs` / `status` on the local platform as whole processes,
against `python -c pass`, interleaved in the same run (medians of N rounds).

A throwaway home with 20 finished jobs (the default `ls` page). Each command runs with
stdout to a pipe (as in a script) and, for `ls`, to a pseudo-terminal (ANSI colours);
`JOBRELAY_CLI_FAST=0` rows are the full typer command for comparison. `ls`, `status` and
`logs` take the fast path (`jobrelay/cli/fast.py`: standard library only, no rich).

    uv run python benchmarks/cli_start.py [N]

The last line is `cli start median: S s` (`jobrelay ls`, pipe).
"""

from __future__ import annotations

import os
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
JOBRELAY = str(ROOT / ".venv" / "bin" / "jobrelay")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], env: dict[str, str], *, tty: bool = False) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one whole process."""
    cpu0 = _cpu()
    wall = _wall(argv, env, tty=tty)
    return wall, _cpu() - cpu0


def _wall(argv: list[str], env: dict[str, str], *, tty: bool = False) -> float:
    if tty:
        leader, follower = pty.openpty()
        try:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, env=env, stdout=follower, stderr=subprocess.DEVNULL)
            os.close(follower)
            while True:  # drain the terminal so the child never blocks on it
                try:
                    if not os.read(leader, 65536):
                        break
                except OSError:
                    break
            proc.wait()
            elapsed = time.perf_counter() - t0
        finally:
            os.close(leader)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} exited {proc.returncode}")
        return elapsed
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="jrcli-") as tmp:
        env = {**os.environ, "JOBRELAY_HOME": tmp, "JOBRELAY_PLATFORM": "local://"}
        env.pop("COLUMNS", None)
        for i in range(20):
            subprocess.run(
                [JOBRELAY, "submit", "--wait", f"echo line {i}"],
                env=env,
                check=True,
                capture_output=True,
            )
        listed = subprocess.run(
            [JOBRELAY, "ls", "--limit", "1", "--json"], env=env, check=True, capture_output=True
        )
        job_id = listed.stdout.decode().split('"id": "')[1].split('"')[0]
        slow = {**env, "JOBRELAY_CLI_FAST": "0"}
        subprocess.run([JOBRELAY, "agent", "--help"], env=env, check=True, capture_output=True)
        cases: dict[str, tuple[list[str], dict[str, str], bool]] = {
            "python -c pass": ([PYTHON, "-c", "pass"], env, False),
            "jobrelay ls (pipe)": ([JOBRELAY, "ls"], env, False),
            "jobrelay ls (terminal)": ([JOBRELAY, "ls"], env, True),
            f"jobrelay logs {job_id}": ([JOBRELAY, "logs", job_id], env, False),
            f"jobrelay status {job_id}": ([JOBRELAY, "status", job_id], env, False),
            "full command: jobrelay ls (pipe)": ([JOBRELAY, "ls"], slow, False),
            "full command: jobrelay status": ([JOBRELAY, "status", job_id], slow, False),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(n):
            for name, (argv, case_env, tty) in cases.items():
                wall, used = _timed(argv, case_env, tty=tty)
                times[name].append(wall)
                cpu[name].append(used)
    base = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<44} median {median * 1000:7.1f} ms   {median / base:5.1f}x `pass`"
            # CPU time barely moves with the machine's load, unlike wall time.
            f"   cpu {statistics.median(cpu[name]) * 1000:6.1f} ms"
        )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"cli start median: {statistics.median(times['jobrelay ls (pipe)']):.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
