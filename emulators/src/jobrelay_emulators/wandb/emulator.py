"""``WandbEmulator``: the W&B emulator served over real HTTP on a loopback port.

>>> with WandbEmulator() as emu:                                   # doctest: +SKIP
...     platform_url = f"wandb://{emu.entity}/demo?queue=default&host={emu.url}"
...     emu.create_queue("default")
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args

import uvicorn
from graphql import build_schema
from starlette.applications import Starlette

from jobrelay_emulators.faults import FaultKind
from jobrelay_emulators.lifecycle import EmulatorServer
from jobrelay_emulators.wandb.agent import LaunchAgent, Outcome
from jobrelay_emulators.wandb.app import FileStreamPost, build_app
from jobrelay_emulators.wandb.resolvers import Context
from jobrelay_emulators.wandb.run_views import RunView
from jobrelay_emulators.wandb.schema import SDL
from jobrelay_emulators.wandb.state import LAUNCH_PROJECT, Queue, World
from jobrelay_emulators.wandb.storage import StorageRequest, StorageSigner

__all__ = ["DEFAULT_API_KEY", "WandbEmulator"]

DEFAULT_API_KEY = "emulator-" + "0" * 40


class WandbEmulator(EmulatorServer):
    """A W&B server on ``127.0.0.1``: GraphQL, storage and a simulated launch agent.

    ``api_key`` is the one key it accepts (Basic ``api:<key>``); ``entity`` is the viewer's
    entity. ``agent_home`` is where the agent's ``local`` platform keeps executed jobs (a
    temporary folder by default); :meth:`stop` ends the local agent it started there and the
    jobs it ran (``processes``) before it removes that folder.
    The lifecycle, the request log (``requests``: the GraphQL requests; storage requests are
    in ``storage_requests``) and the fault script (``add_fault``) are
    :class:`~jobrelay_emulators.lifecycle.EmulatorServer`'s; run outcomes are scripted with
    :meth:`script`.
    """

    thread_name = "wandb-emulator"
    fault_kinds = frozenset(get_args(FaultKind))  # GraphQL errors and corrupt downloads too

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        entity: str = "emulator",
        host: str = "127.0.0.1",
        port: int = 0,
        agent: bool = True,
        agent_home: Path | None = None,
    ) -> None:
        super().__init__(host=host, port=port, workdir=agent_home)
        self.api_key = api_key
        self.entity = entity
        self.world = World(entity)
        self.file_stream_posts: list[FileStreamPost] = []
        self.storage = StorageSigner(base_url=self.url)
        self.agent_home = agent_home if agent_home is not None else self.workdir / "agent"
        self.agent = LaunchAgent(self.world, self.agent_home, base_url=self.url, api_key=api_key)
        self._agent_enabled = agent
        self._schema = build_schema(SDL)
        self._schema.get_type("ArtifactCollection").resolve_type = (  # type: ignore[union-attr]
            lambda value, info, abstract: "ArtifactSequence"
        )
        self._schema.get_type("Initiator").resolve_type = (  # type: ignore[union-attr]
            lambda value, info, abstract: "Run"
        )
        context = Context(self.world, self.storage, self.url, run_view=RunView)
        self.app: Starlette = build_app(
            self._schema,
            context,
            self.faults,
            {api_key},
            self.requests,
            self.file_stream_posts,
            self._lifespan,
        )
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="critical",
                lifespan="on",
                access_log=False,
                timeout_graceful_shutdown=2,
            )
        )
        self._ready = threading.Event()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self._agent_enabled:
            await self.agent.start()
        self._ready.set()
        try:
            yield
        finally:
            await self.agent.stop()

    # -- serving (the lifecycle's steps) ---------------------------------------------------

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def _shutdown(self) -> None:
        # The launch agent cancels the jobs still running as the app's lifespan ends.
        self._server.should_exit = True

    def _wait_ready(self) -> None:
        if not self._ready.wait(15):
            raise RuntimeError("the W&B emulator did not start within 15 s")
        while not self._server.started:
            time.sleep(0.01)

    def on_stop(self) -> None:
        """Hand the local agent and (in the emulator's own folder) every job it ran to
        :attr:`processes`, which the lifecycle stops next."""
        self.agent.adopt_processes(self.processes, every_job=self.owns_workdir)

    # -- test helpers --------------------------------------------------------------------

    def create_queue(
        self, name: str, *, entity: str | None = None, prioritization_mode: str = "DISABLED"
    ) -> Queue:
        """Create a run queue directly (as an admin would in the UI)."""
        return self.world.create_queue(
            entity or self.entity, LAUNCH_PROJECT, name, prioritization_mode=prioritization_mode
        )

    def script(
        self, outcome: Outcome, *, run_id: str | None = None, queue: str | None = None
    ) -> None:
        self.agent.script(outcome, run_id=run_id, queue=queue)

    @property
    def storage_requests(self) -> list[StorageRequest]:
        return list(self.storage.requests)

    @property
    def storage_leaks(self) -> list[StorageRequest]:
        """Storage requests that carried W&B credentials; a correct client makes none."""
        return self.storage.leaks
