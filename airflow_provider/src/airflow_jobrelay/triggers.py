"""``JobTrigger``: the deferred wait for one job, on the triggerer's event loop.

The trigger holds plain values only (connection id, job reference, limits, log cursor,
poll settings — never a credential), awaits the core's async client and yields one event:
the core's :class:`~jobrelay.integration.TerminalEvent` as JSON::

    TriggerEvent({"outcome": "succeeded" | "failed" | "cancelled" | "timeout" | "error",
                  "ref": {...}, "status": {<final JobStatus>} | None, "message": "...",
                  "phase": ..., "error_type": "AuthError" | ..., "retryable": ...,
                  "cursor": "<log cursor>" | None})

All deferred tasks on one connection share one client per event loop, so their waiters
share the client's status hub: N deferred jobs cost one status call per tick, not N.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent

# Imported here, not lazily: the triggerer imports this module before it runs a trigger,
# and a first import inside ``run()`` would hold its event loop.
from jobrelay import AsyncClient, JobRef, JobRelayError, JobState, JobUpdate, PollPolicy
from jobrelay.integration import TerminalEvent, wait_event
from jobrelay.integration import shared_client as shared_per_loop

from airflow_jobrelay._gc import freeze_idle_heap_once
from airflow_jobrelay._progress import LogProgress
from airflow_jobrelay.exceptions import JobRelayConnectionError
from airflow_jobrelay.hooks import DEFAULT_CONN_ID, JobRelayHook

__all__ = ["JobTrigger", "shared_client"]

WaitFor = Literal["finished", "running"]
_FLUSH_TIMEOUT_S = 5.0
# Task states a user's action leaves a task in for good: the job has no try left to wait on it.
_TASK_ENDED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


async def shared_client(
    conn_id: str, *, poll_interval: float | None = None, max_poll_interval: float | None = None
) -> AsyncClient:
    """The opened client for ``conn_id`` shared by every trigger on this event loop.

    Raises ``JobRelayConnectionError`` for a connection that cannot be used.
    """
    hook = JobRelayHook(conn_id)

    async def make() -> AsyncClient:
        poll = None
        if poll_interval is not None or max_poll_interval is not None:
            initial = poll_interval or PollPolicy.initial_s
            poll = PollPolicy(initial_s=initial, max_s=max(initial, max_poll_interval or initial))
        client = hook.client_from_connection(await hook.aget_connection(conn_id), poll=poll)
        return await hook.open_client(client)  # a broken connection names its field

    return await shared_per_loop((conn_id, poll_interval, max_poll_interval), make)


class JobTrigger(BaseTrigger):
    """Wait for a jobrelay job until it ends (or runs, with ``wait_for="running"``).

    :param job: the job reference as a dict (``JobRef.model_dump(mode="json")``).
    :param jobrelay_conn_id: the ``jobrelay`` connection the job's platform is on.
    :param wait_for: ``"finished"`` (default) or ``"running"``.
    :param queue_timeout: seconds the job may spend queued/starting from now.
    :param run_timeout: seconds the job may spend running.
    :param timeout: seconds for the whole wait.
    :param cancel_on_timeout: cancel the job when a limit runs out (default true).
    :param cancel_on_kill: cancel the job when a user kills the deferred task.
    :param log_cursor: where the task log's copy of the job's log stops; handed back in
        the event so the task resumes the log there.
    :param follow_logs: write the job's lines to this trigger's log as they are printed,
        which Airflow shows in the task's log while the task is deferred; the event's
        cursor is then past them, so the resumed task copies only what is left. Airflow
        never updates a trigger's kwargs, so the trigger keeps its progress in an XCom of
        the task (``jobrelay_log_cursor``) and a restarted trigger continues from there
        (see ``_progress``); ``log_cursor`` is where the first run starts.
    :param waiting_since: when the wait began (ISO 8601 with offset; the operator sets it
        as it defers). The limits count from then, so a triggerer restart, which runs the
        trigger again from these kwargs, does not give the job fresh limits; a job found
        already running counts its run time from the platform's ``started_at``. Like
        Airflow's own deferral timeouts, this trusts the Airflow hosts' clocks to agree.
    :param poll_interval: first status-poll interval (seconds); default: the platform's.
    :param max_poll_interval: the longest poll interval while nothing changes.
    """

    def __init__(
        self,
        *,
        job: dict[str, Any],
        jobrelay_conn_id: str = DEFAULT_CONN_ID,
        wait_for: WaitFor = "finished",
        queue_timeout: float | None = None,
        run_timeout: float | None = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        log_cursor: str | None = None,
        follow_logs: bool = False,
        waiting_since: str | None = None,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job = dict(job)
        self.jobrelay_conn_id = jobrelay_conn_id
        self.wait_for: WaitFor = wait_for
        self.queue_timeout = queue_timeout
        self.run_timeout = run_timeout
        self.timeout = timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.log_cursor = log_cursor
        self.follow_logs = follow_logs
        self.waiting_since = waiting_since
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job": self.job,
                "jobrelay_conn_id": self.jobrelay_conn_id,
                "wait_for": self.wait_for,
                "queue_timeout": self.queue_timeout,
                "run_timeout": self.run_timeout,
                "timeout": self.timeout,
                "cancel_on_timeout": self.cancel_on_timeout,
                "cancel_on_kill": self.cancel_on_kill,
                "log_cursor": self.log_cursor,
                "follow_logs": self.follow_logs,
                "waiting_since": self.waiting_since,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
            },
        )

    async def _client(self) -> AsyncClient:
        return await shared_client(
            self.jobrelay_conn_id,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )

    def _ref(self) -> JobRef:
        return JobRef.model_validate(self.job)

    def _since(self) -> datetime | None:
        return None if self.waiting_since is None else datetime.fromisoformat(self.waiting_since)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # In Airflow's trigger runner, the first trigger freezes Airflow's idle heap, so
        # that full collections (set off when many triggers start or end) stop walking it
        # and holding the loop for seconds; see ``_gc``. Nowhere else, and only once.
        freeze_idle_heap_once()
        ref = self._ref()
        progress = LogProgress(getattr(self, "task_instance", None), ref.id)
        cursor = (await progress.load() if self.follow_logs else None) or self.log_cursor
        try:
            client = await self._client()
            event = await wait_event(
                client,
                ref,
                until=JobState.RUNNING if self.wait_for == "running" else JobState.SUCCEEDED,
                cursor=cursor,
                follow_logs=self.follow_logs,
                on_update=functools.partial(self._log_update, progress)
                if self.follow_logs
                else None,
                queue_timeout=self.queue_timeout,
                run_timeout=self.run_timeout,
                timeout=self.timeout,
                cancel_on_timeout=self.cancel_on_timeout,
                since=self._since(),
            )
        except asyncio.CancelledError:
            # A triggerer restart or redistribution lands here as well as a user's kill;
            # only the latter should stop the job, and Airflow calls on_kill for it. The
            # log copy's progress is saved, so a restarted trigger does not repeat lines.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._say("Stopped waiting for job %s", ref.id), _FLUSH_TIMEOUT_S
                )
                await asyncio.wait_for(progress.flush(), _FLUSH_TIMEOUT_S)
            raise
        except (JobRelayError, JobRelayConnectionError) as exc:  # the connection is unusable
            event = TerminalEvent(
                outcome="error",
                ref=ref,
                message=str(exc),
                error_type=type(exc).__name__,
                field=getattr(exc, "field", None),
                cursor=cursor,
            )
        yield TriggerEvent(event.to_json())  # type: ignore[no-untyped-call]

    async def _log_update(self, progress: LogProgress, update: JobUpdate) -> None:
        from airflow_jobrelay._logs import log_update

        # A page at a time and in order (each waits for the one before); see ``_say``.
        await asyncio.to_thread(log_update, self.log, update)
        if update.lines:
            await progress.advanced(update.cursor)

    async def _say(self, event: str, *args: object) -> None:
        """Write to the trigger's log off the event loop. A trigger's log is a socket to the
        triggerer's supervisor, and a write blocks while the supervisor is busy (with 1,000
        triggers' events at once: seconds): on the loop it would stop every trigger. The
        context goes along (``to_thread``), so Airflow routes the line to this task."""
        await asyncio.to_thread(self.log.info, event, *args)

    async def on_kill(self) -> None:
        """A user acted on the deferred task: cancel the job, unless the task runs again.

        Airflow calls this for mark-failed, mark-success and clear alike, after it has
        written the task's new state. Mark-failed and mark-success end the task: its job
        is cancelled. A clear gives the task another try, which reattaches to the job
        under the task instance's key and continues the wait: cancelling here would cancel
        the job that try waits on (the two race), so a cleared task's job is left to it.
        When the state cannot be read, the job is cancelled (the pre-clear behaviour).
        """
        if not self.cancel_on_kill:
            await self._say("cancel_on_kill is off: job %s keeps running", self.job.get("id"))
            return
        state = await self._task_state()
        if state is not None and state not in _TASK_ENDED:
            await self._say(
                "The task was cleared (now %s): its next try continues job %s, so it is "
                "not cancelled",
                state,
                self.job.get("id"),
            )
            return
        client = await self._client()
        await client.cancel(self._ref())
        await self._say("Cancelled job %s: the task was stopped by a user", self.job.get("id"))

    async def _task_state(self) -> str | None:
        """The deferred task instance's state as the metadata DB has it now; ``None`` if
        there is no task instance or Airflow cannot tell (outside a triggerer)."""
        ti = getattr(self, "task_instance", None)
        if ti is None:
            return None
        map_index = -1 if ti.map_index is None else int(ti.map_index)
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

            states = await asyncio.to_thread(
                RuntimeTaskInstance.get_task_states,
                dag_id=ti.dag_id,
                task_ids=[ti.task_id],
                run_ids=[ti.run_id],
                map_index=map_index,
            )
        except Exception as exc:  # no supervisor to ask: behave as before clears existed
            self.log.debug("Could not read the state of the task: %s", exc)
            return None
        name = ti.task_id if map_index < 0 else f"{ti.task_id}_{map_index}"
        by_task = states.get(ti.run_id, {})
        if name not in by_task:
            return None
        state = by_task[name]
        return "none" if state is None else str(getattr(state, "value", state))
