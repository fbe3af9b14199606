"""`jobrelay emulator NAME` stopped by Ctrl-C or SIGTERM while a job runs leaves nothing behind.

Each emulator runs as a real `python -m jobrelay emulator NAME` process; a job that records
its pid and sleeps is submitted through jobrelay with the URL and credentials the emulator
prints. Once it runs, the emulator gets the signal and must exit at once, with every process
it started (its children, the W&B emulator's detached local agent, the job) gone and its
temporary folders removed. Every process it starts inherits a marker in its environment, so
the test finds them even when they are not its descendants.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from jobrelay import AsyncClient, JobSpec
from jobrelay.models import JobRef

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

MARK = "JOBRELAY_EMULATOR_STOP_TEST"
TOKENS = ("WANDB_API_KEY", "ANYSCALE_CLI_TOKEN", "FUSED_AUTH_TOKEN")
STOP_WITHIN_S = 8.0  # the emulator's own bound: a 2 s grace, then SIGKILL


@dataclass
class Emulator:
    """A running `jobrelay emulator NAME` and what it printed."""

    process: subprocess.Popen[str]
    mark: str
    tmp: Path  # the emulator's TMPDIR: its temporary folders are made here
    platform: str = ""
    exports: dict[str, str] = field(default_factory=dict)
    stderr: list[str] = field(default_factory=list)


def _reader(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def emulator(name: str, tmp_path: Path, *options: str) -> Iterator[Emulator]:
    """Start the emulator and read its banner; on the way out kill whatever is left of it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in TOKENS}
    env.update({"TMPDIR": str(tmp), MARK: mark, "COLUMNS": "400"})
    process = subprocess.Popen(
        [sys.executable, "-m", "jobrelay", "emulator", name, "--port", "0", *options],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job is
    )
    running = Emulator(process, mark, tmp)
    lines: queue.Queue[str | None] = queue.Queue()
    errors: queue.Queue[str | None] = queue.Queue()
    readers = [
        threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True),
        threading.Thread(target=_reader, args=(process.stderr, errors), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"the emulator exited: {_drain(errors)}"
            text = line.strip()
            if text.startswith("export "):
                key, _, value = text.removeprefix("export ").partition("=")
                running.exports[key] = value
            elif text.startswith("platform: "):
                running.platform = text.removeprefix("platform: ")
            elif text == "Ctrl-C to stop.":
                break
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        for proc in marked(mark):
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        for reader in readers:
            reader.join(5)
        running.stderr = _drain(errors)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _drain(lines: queue.Queue[str | None]) -> list[str]:
    found = []
    with contextlib.suppress(queue.Empty):
        while (line := lines.get(timeout=0.5)) is not None:
            found.append(line)
    return found


def marked(mark: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``mark`` (inherited from the emulator)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(MARK) == mark and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def sleeper(pidfile: Path, *, ignore_sigterm: bool = False) -> str:
    """Python that records its pid and then sleeps far longer than the test."""
    return (
        "import os, signal, time\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_sigterm else "")
        + f"open({str(pidfile)!r} + '.tmp', 'w').write(str(os.getpid()))\n"
        f"os.rename({str(pidfile)!r} + '.tmp', {str(pidfile)!r})\n"
        "time.sleep(600)\n"
    )


def long_job(name: str, pidfile: Path, *, ignore_sigterm: bool = False) -> JobSpec:
    code = sleeper(pidfile, ignore_sigterm=ignore_sigterm)
    if name == "fused":
        body = "".join(f"    {line}\n" for line in code.splitlines())
        return JobSpec(entrypoint="udf", config={"code": f"@fused.udf\ndef udf():\n{body}"})
    return JobSpec(entrypoint=[sys.executable, "-c", code], name="sleeper")


async def run_until_running(
    running: Emulator,
    name: str,
    pidfile: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    ignore_sigterm: bool = False,
) -> JobRef:
    """Submit the long job as a user would (the printed exports and URL), wait for RUNNING."""
    for key, value in running.exports.items():
        monkeypatch.setenv(key, value)
    async with AsyncClient(running.platform) as client:
        ref = await client.submit(long_job(name, pidfile, ignore_sigterm=ignore_sigterm))
        deadline = time.monotonic() + 30
        while True:
            status = await client.status(ref)
            if status.state.value == "RUNNING" and pidfile.exists():
                return ref
            assert not status.state.is_terminal, status
            assert time.monotonic() < deadline, f"never RUNNING: {status}"
            await asyncio.sleep(0.05)


def processes_of(running: Emulator, job: psutil.Process) -> dict[int, psutil.Process]:
    """The emulator's descendants, every process carrying its mark, and the job."""
    me = psutil.Process(running.process.pid)
    found = {p.pid: p for p in [*me.children(recursive=True), *marked(running.mark), job]}
    found.pop(me.pid, None)
    return found


def signal_and_wait(running: Emulator, sig: signal.Signals) -> float:
    """Send ``sig`` as a user would and return how long the emulator took to exit."""
    began = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(running.process.pid, sig)  # Ctrl-C: the terminal signals the whole group
    else:
        os.kill(running.process.pid, sig)
    running.process.wait(STOP_WITHIN_S)
    return time.monotonic() - began


def left_running(started: dict[int, psutil.Process]) -> dict[int, str]:
    settle = time.monotonic() + 2  # an orphan is reaped by init a moment after it dies
    while any(alive(p) for p in started.values()) and time.monotonic() < settle:
        time.sleep(0.05)
    return {pid: p.name() for pid, p in started.items() if alive(p)}


def assert_clean_exit(running: Emulator) -> None:
    assert running.process.returncode == 0, running.stderr
    assert not any("Traceback" in line for line in running.stderr), running.stderr


SIGNALS = [pytest.param(signal.SIGINT, id="ctrl-c"), pytest.param(signal.SIGTERM, id="sigterm")]
EMULATORS = ["wandb", "anyscale", "fused"]


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("name", EMULATORS)
async def test_a_stopped_emulator_leaves_no_process_and_no_folder(
    name: str, sig: signal.Signals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "job.pid"
    with emulator(name, tmp_path) as running:
        await run_until_running(running, name, pidfile, monkeypatch)
        job = psutil.Process(int(pidfile.read_text()))
        started = processes_of(running, job)
        assert alive(job)
        if name == "wandb":  # the job runs under a local agent that is not the emulator's child
            children = psutil.Process(running.process.pid).children(recursive=True)
            assert set(started) - {c.pid for c in children}
        assert any(running.tmp.iterdir()), "the emulator made no temporary folder"

        took = await asyncio.to_thread(signal_and_wait, running, sig)

        assert left_running(started) == {}, f"{name} left processes running after {sig.name}"
        assert marked(running.mark) == []
        assert sorted(p.name for p in running.tmp.iterdir()) == []
    assert_clean_exit(running)
    assert took < STOP_WITHIN_S


@pytest.mark.parametrize("name", EMULATORS)
async def test_a_job_that_ignores_sigterm_is_killed_and_the_emulator_still_exits(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "job.pid"
    with emulator(name, tmp_path) as running:
        await run_until_running(running, name, pidfile, monkeypatch, ignore_sigterm=True)
        job = psutil.Process(int(pidfile.read_text()))
        started = processes_of(running, job)

        took = await asyncio.to_thread(signal_and_wait, running, signal.SIGINT)

        assert left_running(started) == {}
        assert sorted(p.name for p in running.tmp.iterdir()) == []
    assert_clean_exit(running)
    assert took < STOP_WITHIN_S


async def test_wandb_with_its_own_agent_home_keeps_it_and_the_job_ends_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "agent-home"
    pidfile = tmp_path / "job.pid"
    with emulator("wandb", tmp_path, "--agent-home", str(home)) as running:
        await run_until_running(running, "wandb", pidfile, monkeypatch)
        started = processes_of(running, psutil.Process(int(pidfile.read_text())))

        await asyncio.to_thread(signal_and_wait, running, signal.SIGINT)

        assert left_running(started) == {}
    assert_clean_exit(running)
    # The home is the user's: it stays, and its job is over, not queued for its next agent.
    async with AsyncClient(f"local://{home}") as local:
        jobs = await local.list_jobs()
    assert [status.state.value for status in jobs] == ["CANCELLED"]
