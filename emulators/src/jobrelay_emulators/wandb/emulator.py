"""``WandbEmulator``: the W&B emulator served over real HTTP on a loopback port.

>>> with WandbEmulator() as emu:                                   # doctest: +SKIP
...     platform_url = f"wandb://{emu.entity}/demo?queue=default&host={emu.url}"
...     emu.create_queue("default")
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

from graphql import build_schema
from starlette.applications import Starlette

from jobrelay_emulators.processes import ProcessGroups
from jobrelay_emulators.serving import serve_until_signalled
from jobrelay_emulators.wandb.agent import LaunchAgent, Outcome
from jobrelay_emulators.wandb.app import FileStreamPost, GraphQLRequest, build_app
from jobrelay_emulators.wandb.faults import Faults
from jobrelay_emulators.wandb.resolvers import Context
from jobrelay_emulators.wandb.run_views import RunView
from jobrelay_emulators.wandb.schema import SDL
from jobrelay_emulators.wandb.state import LAUNCH_PROJECT, Queue, World
from jobrelay_emulators.wandb.storage import StorageRequest, StorageSigner

__all__ = ["DEFAULT_API_KEY", "WandbEmulator"]

DEFAULT_API_KEY = "emulator-" + "0" * 40


class WandbEmulator:
    """A W&B server on ``127.0.0.1``: GraphQL, storage and a simulated launch agent.

    ``api_key`` is the one key it accepts (Basic ``api:<key>``); ``entity`` is the viewer's
    entity. ``agent_home`` is where the agent's ``local`` platform keeps executed jobs (a
    temporary folder by default); :meth:`stop` ends the local agent it started there and the
    jobs it ran (``processes``) before it removes that folder.
    Faults are scripted with ``emulator.faults.add(...)`` and run outcomes with
    ``emulator.agent.script(...)``.
    """

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
        self.api_key = api_key
        self.entity = entity
        self.world = World(entity)
        self.faults = Faults()
        self.requests: list[GraphQLRequest] = []
        self.file_stream_posts: list[FileStreamPost] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.storage = StorageSigner(base_url=self.url)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if agent_home is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wandb-emulator-")
            agent_home = Path(self._tmp.name) / "agent"
        self.agent_home = agent_home
        self.processes = ProcessGroups()
        self.agent = LaunchAgent(self.world, agent_home, base_url=self.url, api_key=api_key)
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
        self._server: Any = None
        self._thread: threading.Thread | None = None
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

    # -- serving -------------------------------------------------------------------------

    def start(self) -> WandbEmulator:
        """Serve in a background thread; returns once the server accepts requests."""
        import uvicorn

        config = uvicorn.Config(
            self.app,
            log_level="critical",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"wandb-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the W&B emulator did not start within 15 s")
        while not self._server.started:
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM (the ``jobrelay emulator wandb``
        command), then :meth:`stop`."""
        if self._thread is None:
            self.start()
        serve_until_signalled(
            lambda: self._thread is not None and self._thread.is_alive(), self.stop
        )

    def stop(self) -> None:
        """Stop serving (the launch agent cancels the jobs still running), stop the local
        agent and the jobs' processes (waiting until they are gone), then remove the
        temporary folder."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        self.agent.adopt_processes(self.processes, every_job=self._tmp is not None)
        self.processes.stop_all()
        self._sock.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> WandbEmulator:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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
