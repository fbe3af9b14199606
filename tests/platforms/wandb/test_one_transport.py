"""One W&B target, one transport: a platform and the artifact store it hands out send through
the same connection pool, and closing the platform closes it; a store opened alone (the
``jobrelay.stores`` entry point) has a pool of its own, which its ``aclose`` closes.

The W&B API is reached through a TCP forwarder on loopback that counts the connections
clients open to it and the ones they close; presigned storage URLs go to the emulator
directly, so what is counted is the API's connections only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jobrelay.artifacts import open_store as open_any_store
from jobrelay.platforms.wandb import WandbArtifactStore, open_platform, open_store
from jobrelay_emulators.wandb import WandbEmulator

from .conftest import FAST_RETRY, eventually

pytestmark = pytest.mark.timeout(60)


class ConnectionCounter:
    """Forwards each TCP connection to ``target`` and counts those opened and closed."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.opened = 0
        self.closed = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )
        self.closed += 1


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


@pytest.fixture
async def counter(emulator: WandbEmulator) -> AsyncIterator[ConnectionCounter]:
    c = ConnectionCounter(emulator.url)
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


def _url(emulator: WandbEmulator, host: str, queue: bool = True) -> str:
    query = "queue=default&" if queue else ""
    return f"wandb://{emulator.entity}/proj?{query}host={host}"


async def test_a_platform_and_its_store_send_through_one_connection_closed_with_the_platform(
    emulator: WandbEmulator, counter: ConnectionCounter, tmp_path: Path
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    platform = await open_platform(
        _url(emulator, counter.url), api_key=emulator.api_key, retry=FAST_RETRY
    )
    try:
        await platform.list_queues()
        store = platform.artifact_store()
        ref = await store.put("data", tmp_path / "data.csv", type="dataset")
        assert [r.uri for r in await store.list("data")] == [ref.uri]
        await platform.list_queues()
        assert counter.opened == 1

        # Closing the store the platform handed out leaves the platform (and the store)
        # working on the same connection.
        await store.aclose()
        assert [q.name for q in await platform.list_queues()] == ["default"]
        assert (await store.resolve("data:latest")).uri == ref.uri
        assert (counter.opened, counter.closed) == (1, 0)
    finally:
        await platform.aclose()
    await eventually(lambda: counter.closed == 1)
    await store.aclose()  # closing it again after the platform is harmless
    assert (counter.opened, counter.closed) == (1, 1)


async def test_a_store_opened_alone_has_its_own_connection_and_closes_it(
    emulator: WandbEmulator, counter: ConnectionCounter, tmp_path: Path
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"trained weights " * 64)
    # Through the jobrelay.stores entry point, as anyone opens a store by URL.
    store = open_any_store(_url(emulator, counter.url, queue=False), api_key=emulator.api_key)
    assert isinstance(store, WandbArtifactStore)
    try:
        ref = await store.put("weights", tmp_path / "weights.bin")
        fetched = await store.fetch(ref, tmp_path / "out" / "weights.bin")
        assert fetched.read_bytes() == b"trained weights " * 64
        assert counter.opened == 1
    finally:
        await store.aclose()
    await eventually(lambda: counter.closed == 1)


async def test_a_platform_and_a_store_opened_alone_do_not_share(
    emulator: WandbEmulator, counter: ConnectionCounter, tmp_path: Path
) -> None:
    platform = await open_platform(
        _url(emulator, counter.url), api_key=emulator.api_key, retry=FAST_RETRY
    )
    store = open_store(_url(emulator, counter.url, queue=False), api_key=emulator.api_key)
    try:
        await platform.list_queues()
        await platform.artifact_store().list()
        await store.list()
        assert counter.opened == 2
        await store.aclose()
        await eventually(lambda: counter.closed == 1)
        assert [q.name for q in await platform.list_queues()] == ["default"]
    finally:
        await platform.aclose()
        await store.aclose()
    await eventually(lambda: counter.closed == 2)
    assert counter.opened == 2
