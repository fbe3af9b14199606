"""The local platform's worker: claims queued jobs and runs them as process groups.

Run it with :func:`run_agent` or ``python -m jobrelay.platforms.local.agent --home H``.
Clients start one in the background on demand (see :mod:`.spawn`), so users rarely do.

The agent is a single-threaded asyncio loop; it touches SQLite directly because every
statement takes milliseconds and staying single-threaded keeps ``fork`` (and the
``preexec_fn`` that sets the parent-death signal) safe. Each pass of the loop:

* heartbeats every 0.5 s and recovers jobs of dead agents every second;
* passes on cancel requests for its own jobs;
* claims every job the queues let it start.

Between passes it sleeps until the wake pipe is poked, a job ends, or a short poll
interval passes (20 ms while any job is active, 0.5 s otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import sqlite3
import time
from pathlib import Path

from jobrelay.platforms.local import scheduling
from jobrelay.platforms.local.runner import AttemptResult, JobRun
from jobrelay.platforms.local.scheduling import Claim
from jobrelay.platforms.local.store import Store, new_agent_id
from jobrelay.platforms.local.wake import WakeReader, announce

__all__ = ["Agent", "main", "run_agent"]

log = logging.getLogger("jobrelay.local.agent")

HEARTBEAT_EVERY_S = 0.5
RECOVER_EVERY_S = 1.0
POLL_ACTIVE_S = 0.02
POLL_IDLE_S = 0.5
DEFAULT_CANCEL_GRACE_S = 3.0


class Agent:
    """One worker process serving one home. Use :func:`run_agent` to run it."""

    def __init__(
        self,
        home: Path,
        *,
        idle_timeout: float | None = 30.0,
        agent_id: str | None = None,
        cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S,
    ) -> None:
        self.home = home
        self.id = agent_id or new_agent_id()
        self.idle_timeout = idle_timeout
        self.cancel_grace_s = cancel_grace_s
        self._runs: dict[str, JobRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_heartbeat = -math.inf
        self._last_recovery = -math.inf
        self._idle_since: float | None = None

    async def run(self) -> None:
        """Serve jobs until idle for ``idle_timeout`` seconds or SIGTERM/SIGINT."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.home / "logs").mkdir(exist_ok=True, mode=0o700)
        self.store = Store(self.home)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        wake = self._open_wake(loop)
        log.info("agent %s (pid %d) serving %s", self.id, os.getpid(), self.home)
        try:
            while not self._stopping:
                try:
                    busy = self._pass()
                except sqlite3.Error:
                    # e.g. the database stayed locked past the busy timeout: try again soon.
                    log.exception("agent %s: database error; retrying", self.id)
                    busy = True
                if (
                    not busy
                    and self._idle_long_enough()
                    and scheduling.retire_if_idle(self.store, self.id)
                ):
                    log.info("agent %s idle for %ss, exiting", self.id, self.idle_timeout)
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), POLL_ACTIVE_S if busy else POLL_IDLE_S
                    )
        finally:
            await self._shutdown()
            if wake is not None:
                loop.remove_reader(wake.fileno())
                wake.close()
            self.store.close()

    def stop(self) -> None:
        """Stop claiming, kill running jobs and hand them back to the queue, then exit."""
        self._stopping = True
        self._wake.set()

    # -- one pass -----------------------------------------------------------------------

    def _pass(self) -> bool:
        """Heartbeat, recover, cancel, claim. True while any job is active."""
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY_S:
            scheduling.heartbeat(self.store, self.id, os.getpid())
            self._last_heartbeat = now
        if now - self._last_recovery >= RECOVER_EVERY_S:
            recovered = scheduling.recover_lost_jobs(self.store, self.id)
            for job_id, state in recovered:
                log.warning("recovered job %s of a lost agent -> %s", job_id, state)
            if recovered:
                announce(self.home)
            self._last_recovery = now
        if self._runs:
            for job_id in scheduling.cancel_requested_ids(self.store, self.id):
                if job_id in self._runs:
                    self._runs[job_id].request_cancel()
        claimed = False
        while (claim := scheduling.claim_next(self.store, self.id)) is not None:
            self._start(claim)
            claimed = True
        if claimed:
            announce(self.home)
        busy = bool(self._runs) or scheduling.active_job_count(self.store) > 0
        self._idle_since = None if busy else (self._idle_since or now)
        return busy

    def _idle_long_enough(self) -> bool:
        if self.idle_timeout is None or self._idle_since is None:
            return False
        return time.monotonic() - self._idle_since >= self.idle_timeout

    def _start(self, claim: Claim) -> None:
        run = JobRun(self.home, claim, grace_s=self.cancel_grace_s)
        self._runs[claim.job_id] = run
        task = asyncio.create_task(self._supervise(run), name=f"job-{claim.job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self, run: JobRun) -> None:
        claim = run.claim

        def started(pid: int, start_ticks: int | None) -> None:
            scheduling.mark_running(self.store, claim, self.id, pid=pid, proc_start=start_ticks)
            announce(self.home)

        try:
            result = await run.run(started)
        except Exception as exc:  # keep serving other jobs; the failure goes to the job
            log.exception("job %s: agent error", claim.job_id)
            result = AttemptResult("failed", None, f"agent error: {exc}")
        finally:
            self._runs.pop(claim.job_id, None)
            self._wake.set()
        if run.abandoned:
            return
        for retry in range(5):
            try:
                state = scheduling.finish_attempt(
                    self.store,
                    claim,
                    self.id,
                    outcome=result.outcome,
                    exit_code=result.exit_code,
                    message=result.message,
                )
            except sqlite3.Error:
                log.exception("job %s: could not record its end (try %d)", claim.job_id, retry)
                await asyncio.sleep(1.0)
            else:
                announce(self.home)  # waiting clients see the end now, not at their next poll
                log.info("job %s attempt %d -> %s", claim.job_id, claim.attempt, state)
                return

    def _open_wake(self, loop: asyncio.AbstractEventLoop) -> WakeReader | None:
        try:
            wake = WakeReader(self.home)
        except OSError as exc:
            log.warning("no wake pipe (%s); polling only", exc)
            return None

        def on_wake() -> None:
            wake.drain()
            self._wake.set()

        loop.add_reader(wake.fileno(), on_wake)
        return wake

    async def _shutdown(self) -> None:
        """Kill this agent's jobs and queue them again (or end them), then deregister."""
        abandoned = list(self._runs.values())
        for run in abandoned:
            run.abandon()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        if abandoned:
            released = scheduling.recover_lost_jobs(self.store, self.id, release_own=True)
            log.info("agent %s stopping; released %s", self.id, released)
        scheduling.remove_agent(self.store, self.id)


def run_agent(
    home: Path,
    *,
    idle_timeout: float | None = 30.0,
    agent_id: str | None = None,
    cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S,
) -> None:
    """Run an agent for ``home`` in this thread until it is idle or stopped.

    ``idle_timeout`` is how long to stay with nothing queued or running (None: forever);
    ``cancel_grace_s`` is the wait between SIGTERM and SIGKILL when a job is cancelled.
    Must run in the main thread (it installs signal handlers).

    >>> run_agent(Path("/tmp/jobrelay-home"), idle_timeout=5)  # doctest: +SKIP
    """
    agent = Agent(home, idle_timeout=idle_timeout, agent_id=agent_id, cancel_grace_s=cancel_grace_s)
    asyncio.run(agent.run())


def _seconds_or_none(text: str) -> float | None:
    value = float(text)
    return None if math.isinf(value) or value < 0 else value


def main(argv: list[str] | None = None) -> None:
    """``python -m jobrelay.platforms.local.agent --home H [--idle-timeout S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m jobrelay.platforms.local.agent",
        description="Run the jobrelay local platform agent (worker) for one home.",
    )
    parser.add_argument("--home", required=True, type=Path, help="the local platform home")
    parser.add_argument(
        "--idle-timeout",
        type=_seconds_or_none,
        default=30.0,
        help="exit after this many idle seconds; 'inf' or a negative value: never",
    )
    parser.add_argument("--agent-id", default=None, help="id to register under")
    parser.add_argument(
        "--cancel-grace",
        type=float,
        default=DEFAULT_CANCEL_GRACE_S,
        help="seconds between SIGTERM and SIGKILL when cancelling a job",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_agent(
        args.home.resolve(),
        idle_timeout=args.idle_timeout,
        agent_id=args.agent_id,
        cancel_grace_s=args.cancel_grace,
    )


if __name__ == "__main__":
    main()
