"""Runs one attempt of a claimed job as a process group, on the agent's event loop.

The job is the leader of a new session (so its pid is its process group id) and gets
``PR_SET_PDEATHSIG`` so it dies with the agent. Its stdout and stderr are read line by line
into the job's log. When the leader exits, whatever is left of its group is killed before
the leader is reaped: while the leader is an unreaped zombie its pid, and so the group id,
cannot be reused, which makes that kill safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobrelay._procs import kill_group, pdeathsig_preexec, proc_start_time
from jobrelay.platforms.local.logs import LogWriter, Stream
from jobrelay.platforms.local.scheduling import Claim, Outcome

__all__ = ["AttemptResult", "JobRun", "job_argv", "job_env"]

# A line longer than this without a newline is written out in pieces.
_MAX_LINE_BYTES = 64 * 1024
# After the group is killed the pipes reach EOF at once, unless a process escaped the
# group (its own setsid) and still holds them; do not wait for such a process.
_DRAIN_TIMEOUT_S = 1.0
# Without pidfd support, how often to look whether the leader exited.
_EXIT_POLL_S = 0.01


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended."""

    outcome: Outcome
    exit_code: int | None
    message: str | None


def job_argv(entrypoint: str | list[str]) -> list[str]:
    """A shell string runs through ``/bin/sh -c``; a list is the argv itself."""
    return ["/bin/sh", "-c", entrypoint] if isinstance(entrypoint, str) else list(entrypoint)


def job_env(spec_env: dict[str, str], job_id: str, attempt: int) -> dict[str, str]:
    """The agent's environment with the job's ``env`` merged over it."""
    env = dict(os.environ)
    # Python jobs buffer stdout when it is a pipe; unbuffered output makes logs live.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(spec_env)
    env["JOBRELAY_JOB_ID"] = job_id
    env["JOBRELAY_ATTEMPT"] = str(attempt)
    return env


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


class JobRun:
    """One attempt of one job. ``await run()`` returns when the attempt is over.

    ``request_cancel()`` sends SIGTERM to the job's group and SIGKILL ``grace_s`` later.
    ``abandon()`` kills the group without recording an outcome (the agent is stopping).
    """

    def __init__(self, home: Path, claim: Claim, *, grace_s: float) -> None:
        self.claim = claim
        self.abandoned = False
        self._home = home
        self._grace_s = grace_s
        self._popen: subprocess.Popen[bytes] | None = None
        self._exited: asyncio.Future[None] | None = None
        self._cancelled = False
        self._timed_out = False
        self._signalled = False
        self._kill_timer: asyncio.TimerHandle | None = None

    async def run(self, on_started: Callable[[int, int | None], None]) -> AttemptResult:
        """Start the process, follow it to its end, and describe the end.

        ``on_started(pid, start_ticks)`` is called once the process exists.
        """
        writer = LogWriter(self._home, self.claim.job_id)
        try:
            return await self._run(writer, on_started)
        finally:
            writer.close()

    def request_cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._terminate()

    def abandon(self) -> None:
        self.abandoned = True
        if self._popen is not None:
            kill_group(self._popen.pid, signal.SIGKILL)

    # -- internals ----------------------------------------------------------------------

    async def _run(
        self, writer: LogWriter, on_started: Callable[[int, int | None], None]
    ) -> AttemptResult:
        claim, spec = self.claim, self.claim.spec
        if self.abandoned:
            return AttemptResult("failed", None, "agent stopped before the job started")
        if claim.cancel_requested:
            return AttemptResult("cancelled", None, "cancelled before it started")
        if claim.attempt > 1:
            writer.write("system", f"attempt {claim.attempt} started")
        try:
            # Forking here is deliberate: it takes well under a millisecond.
            self._popen = subprocess.Popen(  # noqa: ASYNC220
                job_argv(spec["entrypoint"]),
                cwd=spec.get("working_dir") or None,
                env=job_env(spec.get("env") or {}, claim.job_id, claim.attempt),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                # preexec_fn is safe here: the agent runs no other threads.
                preexec_fn=pdeathsig_preexec(),
            )
        except OSError as exc:
            message = f"could not start: {exc.strerror or exc}"
            writer.write("system", message)
            return AttemptResult("failed", None, message)
        popen = self._popen
        try:
            on_started(popen.pid, proc_start_time(popen.pid))
        except BaseException:
            # Unrecorded, the process would run with nobody to stop it: stop it now.
            kill_group(popen.pid, signal.SIGKILL)
            popen.wait()
            raise
        loop = asyncio.get_running_loop()
        assert popen.stdout is not None
        assert popen.stderr is not None
        drained = [
            self._follow_pipe(loop, popen.stdout.fileno(), "stdout", writer),
            self._follow_pipe(loop, popen.stderr.fileno(), "stderr", writer),
        ]
        self._exited = self._watch_exit(loop, popen.pid)
        if self._cancelled:  # a cancel arrived before the process existed
            self._terminate()
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), claim.timeout_s)
        except TimeoutError:
            self._timed_out = True
            self._terminate()
            await self._exited
        # The leader is a zombie now: its group id is still ours, so kill the stragglers.
        kill_group(popen.pid, signal.SIGKILL)
        code = popen.wait()
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*drained), _DRAIN_TIMEOUT_S)
        for stream in (popen.stdout, popen.stderr):
            with contextlib.suppress(ValueError):
                loop.remove_reader(stream.fileno())
            stream.close()
        result = self._result(code)
        if result.outcome != "succeeded" and result.message:
            writer.write("system", result.message)
        return result

    def _result(self, code: int) -> AttemptResult:
        if self._cancelled and self._signalled:
            return AttemptResult("cancelled", code, "cancelled by request")
        if self._timed_out:
            limit = self.claim.timeout_s or 0
            return AttemptResult("failed", code, f"timed out after {limit:g}s")
        if code == 0:
            return AttemptResult("succeeded", 0, None)
        return AttemptResult("failed", code, _describe_exit(code))

    def _terminate(self) -> None:
        if self._popen is None or (self._exited is not None and self._exited.done()):
            return
        self._signalled = True
        kill_group(self._popen.pid, signal.SIGTERM)
        if self._kill_timer is None:
            self._kill_timer = asyncio.get_running_loop().call_later(self._grace_s, self._kill_now)

    def _kill_now(self) -> None:
        if self._popen is not None and self._exited is not None and not self._exited.done():
            kill_group(self._popen.pid, signal.SIGKILL)

    def _watch_exit(self, loop: asyncio.AbstractEventLoop, pid: int) -> asyncio.Future[None]:
        """A future set when the leader exits, before it is reaped."""
        exited: asyncio.Future[None] = loop.create_future()
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            loop.create_task(self._poll_exit(pid, exited))
            return exited

        def on_exit() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, on_exit)
        return exited

    async def _poll_exit(self, pid: int, exited: asyncio.Future[None]) -> None:
        # Only used on kernels without pidfd. WNOHANG never blocks; WNOWAIT peeks without
        # reaping, so the group id stays reserved until we kill the group.
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        while os.waitid(os.P_PID, pid, flags) is None:  # noqa: ASYNC110, ASYNC222
            await asyncio.sleep(_EXIT_POLL_S)
        exited.set_result(None)

    def _follow_pipe(
        self, loop: asyncio.AbstractEventLoop, fd: int, stream: Stream, writer: LogWriter
    ) -> asyncio.Future[None]:
        """Copy a pipe into the log line by line; the future is set at end-of-file."""
        os.set_blocking(fd, False)
        eof: asyncio.Future[None] = loop.create_future()
        pending = b""

        def emit(raw: bytes) -> None:
            writer.write(stream, raw.decode("utf-8", "replace").removesuffix("\r"))

        def on_readable() -> None:
            nonlocal pending
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                loop.remove_reader(fd)
                if pending:
                    emit(pending)
                    pending = b""
                if not eof.done():
                    eof.set_result(None)
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                emit(line)
            while len(pending) > _MAX_LINE_BYTES:
                emit(pending[:_MAX_LINE_BYTES])
                pending = pending[_MAX_LINE_BYTES:]

        loop.add_reader(fd, on_readable)
        return eof
