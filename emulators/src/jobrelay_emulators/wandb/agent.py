"""A simulated W&B launch agent: pops queue items, acks them with a run and drives the run.

Per item it follows the real agent's order (reference §3, §10.6): pop (item LEASED), ack with
the run name (item CLAIMED, ``associatedRunId`` set, no run row yet), then the run appears
(``running``) and ends. What happens to a run is scripted with an :class:`Outcome`, by run id
or for the next items of a queue; without a script, an item whose spec carries an entry point
runs it for real on the ``local`` platform (its output goes to the run's ``output.log``, a stop
request cancels it), and any other item simply finishes.

A job it executes gets the environment a real W&B launch agent gives a run (:func:`launch_env`):
the server's URL and key, the run id, project and entity, the launch config and the input
artifacts, so ``wandb.init()`` in the job attaches to the run the item was acked with. When the
job's SDK finishes the run (``complete`` on the file stream), that state stands; otherwise the
process's exit decides it.

The jobs it executes and the local agent that runs them are the emulator's to stop: :meth:`stop`
cancels the jobs still running, and :meth:`adopt_processes` hands the local agent(s) it started
and its jobs' process groups to the emulator's
:class:`~jobrelay_emulators.processes.ProcessGroups`, which ends them before the home is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import string
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobrelay_emulators.local_home import adopt_local_home, agent_ids
from jobrelay_emulators.processes import ProcessGroups
from jobrelay_emulators.wandb.state import ALIVE_RUN_STATES, Item, Queue, RunRecord, World

__all__ = ["LaunchAgent", "Outcome", "OutcomeKind"]

OutcomeKind = Literal[
    "execute", "finished", "failed", "crashed", "killed", "preempted", "item_failed"
]
_CANCEL_BOUND_S = 2.0  # how long stop() spends cancelling the jobs still running
_RUN_STATE = {
    "finished": "finished",
    "failed": "failed",
    "crashed": "crashed",
    "killed": "killed",
    "preempted": "preempted",
}


@dataclass(frozen=True)
class Outcome:
    """How the agent ends one item: a run state, a FAILED item, or executing it for real.

    ``log_lines`` go to ``output.log``, ``summary`` becomes the run summary, ``duration_s`` is
    how long the run stays ``running`` first.
    """

    kind: OutcomeKind = "finished"
    message: str = "scripted failure"
    exitcode: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    log_lines: tuple[str, ...] = ()
    duration_s: float = 0.0


def _run_name() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


class LaunchAgent:
    """Serves every queue of the world except held ones, from the emulator's event loop."""

    def __init__(
        self,
        world: World,
        home: Path,
        *,
        poll_s: float = 0.05,
        ack_delay_s: float = 0.05,
        run_start_delay_s: float = 0.05,
        base_url: str = "",
        api_key: str = "",
    ) -> None:
        self.world = world
        self.home = home
        self.base_url = base_url
        self._api_key = api_key
        self.poll_s = poll_s
        self.ack_delay_s = ack_delay_s
        self.run_start_delay_s = run_start_delay_s
        self.held: set[str] = set()
        self._by_run: dict[str, Outcome] = {}
        self._by_queue: dict[str, deque[Outcome]] = defaultdict(deque)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._client: Any = None
        self._jobs: dict[str, Any] = {}  # job id -> JobRef of every job submitted to the home
        self._live: set[str] = set()  # the ids of those not yet seen ending
        self._agents_before: set[str] = set()  # the home's agents before this one used it

    # -- scripting (thread-safe enough: plain dict/deque operations) ---------------------

    def script(
        self, outcome: Outcome, *, run_id: str | None = None, queue: str | None = None
    ) -> None:
        """Script the outcome of the run ``run_id``, or of the next item popped from ``queue``."""
        if run_id is not None:
            self._by_run[run_id] = outcome
        elif queue is not None:
            self._by_queue[queue].append(outcome)
        else:
            raise ValueError("give run_id= or queue=")

    def hold(self, queue: str) -> None:
        """Stop popping ``queue``: its items stay PENDING (a queue with no agent)."""
        self.held.add(queue)

    def release(self, queue: str) -> None:
        self.held.discard(queue)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="wandb-emulator-agent")

    async def stop(self) -> None:
        """Stop popping, cancel the jobs still running (a bounded wait), close the client."""
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            # Cancelled through the platform, so a home that outlives the emulator does not
            # hand them to its next agent as jobs to run again.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._cancel_live(), _CANCEL_BOUND_S)
            await self._client.aclose()
            self._client = None

    async def _cancel_live(self) -> None:
        for job_id in list(self._live):
            await self._client.cancel(self._jobs[job_id])

    def adopt_processes(self, processes: ProcessGroups, *, every_job: bool = False) -> None:
        """Record in ``processes`` the local agents this agent's submits started and the
        process groups of the jobs it submitted (of every job in the home with
        ``every_job``: a home only the emulator uses). Call after :meth:`stop`."""
        if self._jobs or every_job:
            adopt_local_home(
                processes,
                self.home,
                except_agents=self._agents_before,
                job_ids=None if every_job else set(self._jobs),
            )

    async def _loop(self) -> None:
        while True:
            for queue in list(self.world.queues.values()):
                if queue.name in self.held:
                    continue
                while (item := self.world.pop(queue)) is not None:
                    task = asyncio.create_task(self._handle(queue, item))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(self.poll_s)

    # -- one item ------------------------------------------------------------------------

    def _outcome(self, queue: Queue, spec: dict[str, Any], run_id: str) -> Outcome:
        if run_id in self._by_run:
            return self._by_run.pop(run_id)
        if self._by_queue[queue.name]:
            return self._by_queue[queue.name].popleft()
        return Outcome("execute") if _argv(spec) else Outcome("finished")

    def _still_queued(self, item: Item) -> bool:
        return self.world.find_item(item.id) is not None

    async def _handle(self, queue: Queue, item: Item) -> None:
        spec = json.loads(item.run_spec)
        run_id = str(spec.get("run_id") or _run_name())
        outcome = self._outcome(queue, spec, run_id)
        await asyncio.sleep(self.ack_delay_s)
        if not self._still_queued(item):
            return
        if outcome.kind == "item_failed":
            self.world.fail_item(item.id, outcome.message, "agent")
            return
        self.world.ack(item.id, run_id)
        await asyncio.sleep(self.run_start_delay_s)
        if not self._still_queued(item):
            return  # deleted before the run started: nothing runs
        overrides = spec.get("overrides") or {}
        run, _ = self.world.upsert_run(
            spec.get("entity") or queue.entity,
            spec.get("project") or "uncategorized",
            run_id,
            state="running",
            config=dict(overrides.get("run_config") or {}),
            display_name=spec.get("name"),
            job_type="launch",
        )
        if outcome.kind == "execute":
            env = launch_env(self.base_url, self._api_key, self.home, queue, item, run, spec)
            await self._execute(run, spec, env)
        else:
            await self._scripted(run, outcome)

    async def _scripted(self, run: RunRecord, outcome: Outcome) -> None:
        for line in outcome.log_lines:
            self.world.append_run_file(run, "output.log", f"{line}\n".encode())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + outcome.duration_s
        while loop.time() < deadline:
            if run.stopped:
                self.world.finish_run(run, "killed")
                return
            await asyncio.sleep(min(self.poll_s, max(0.0, deadline - loop.time())))
        with self.world.lock:
            run.summary = dict(outcome.summary)
        state = _RUN_STATE[outcome.kind]
        self.world.finish_run(run, state, outcome.exitcode)

    async def _local(self) -> Any:
        if self._client is None:
            from jobrelay.client import AsyncClient

            self.home.mkdir(parents=True, exist_ok=True)
            self._agents_before = await asyncio.to_thread(agent_ids, self.home)
            self._client = AsyncClient(f"local://{self.home}?idle_timeout=5")
        return self._client

    def _capture(self, run: RunRecord, lines: list[Any]) -> None:
        """The job's output as the run's console log, until the job's SDK streams its own."""
        if lines and "output.log" not in run.stream_base:
            text = "".join(f"{line.text}\n" for line in lines)
            self.world.append_run_file(run, "output.log", text.encode())

    async def _execute(self, run: RunRecord, spec: dict[str, Any], env: dict[str, str]) -> None:
        from jobrelay.models import JobSpec

        self.world.run_file(run, "output.log")
        client = await self._local()
        ref = await client.submit(JobSpec(entrypoint=_argv(spec), env=env, name=run.name))
        self._jobs[ref.id] = ref
        self._live.add(ref.id)
        cursor: str | None = None
        stop_sent = False
        while True:
            if run.stopped and not stop_sent:
                await client.cancel(ref)
                stop_sent = True
            page = await client.logs(ref, cursor)
            cursor = page.cursor
            self._capture(run, list(page.lines))
            status = await client.status(ref)
            if status.state.is_terminal:
                self._live.discard(ref.id)
                while (page := await client.logs(ref, cursor)).lines:
                    cursor = page.cursor
                    self._capture(run, list(page.lines))
                break
            await asyncio.sleep(self.poll_s)
        if run.state not in ALIVE_RUN_STATES:
            return  # the job's SDK finished the run (file stream ``complete``)
        if status.state.value == "SUCCEEDED":
            self.world.finish_run(run, "finished", 0)
        elif status.state.value == "CANCELLED" or stop_sent:
            self.world.finish_run(run, "killed", status.exit_code)
        else:
            self.world.finish_run(run, "failed", status.exit_code)


def launch_env(
    base_url: str,
    api_key: str,
    home: Path,
    queue: Queue,
    item: Item,
    run: RunRecord,
    spec: dict[str, Any],
) -> dict[str, str]:
    """What a W&B launch agent puts in a run's environment (``LaunchProject.get_env_vars_dict``
    of wandb 0.31): server, key, run id, target project and entity, launch config, artifacts.

    The SDK's own directories go under the agent's home, one per run, as a launched container
    has its own filesystem.
    """
    overrides = spec.get("overrides") or {}
    env = {
        "WANDB_BASE_URL": base_url,
        "WANDB_API_KEY": api_key,
        "WANDB_PROJECT": run.project,
        "WANDB_ENTITY": run.entity,
        "WANDB_LAUNCH": "True",
        "WANDB_RUN_ID": run.name,
        "WANDB_LAUNCH_QUEUE_NAME": queue.name,
        "WANDB_LAUNCH_QUEUE_ENTITY": queue.entity,
        "WANDB_LAUNCH_TRACE_ID": item.id,
        "WANDB_CONFIG": json.dumps(overrides.get("run_config") or {}),
        "WANDB_ARTIFACTS": json.dumps(overrides.get("artifacts") or {}),
    }
    image = (spec.get("docker") or {}).get("docker_image")
    if image:
        env["WANDB_DOCKER"] = str(image)
    if spec.get("name"):
        env["WANDB_NAME"] = str(spec["name"])
    if spec.get("author"):
        env["WANDB_USERNAME"] = str(spec["author"])
    files = home / "runs" / run.name
    for var, sub in (
        ("WANDB_DIR", "dir"),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_CONFIG_DIR", "config"),
        ("WANDB_DATA_DIR", "data"),
        ("WANDB_ARTIFACT_DIR", "artifacts"),
    ):
        (files / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(files / sub)
    return env


def _argv(spec: dict[str, Any]) -> list[str]:
    overrides = spec.get("overrides") or {}
    entry = list(overrides.get("entry_point") or [])
    args = list(overrides.get("args") or [])
    return [*entry, *args] if entry else []
