"""Run-queue administration through the client (reference §5) and the emulator command."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys

import httpx
import pytest
from jobrelay import AsyncClient, JobSpec, QueueMode
from jobrelay.errors import ConfigError, ConflictError, NotFoundError
from jobrelay.platforms.wandb import WandbPlatform
from jobrelay_emulators.wandb import WandbEmulator


async def test_create_queue_uses_the_three_documented_steps(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    async with AsyncClient(platform) as client:
        before = len(emulator.requests)
        info = await client.create_queue("gpu", mode="PRIORITY")
        operations = [r.operation for r in emulator.requests[before:]]
        names = [q.name for q in await client.list_queues()]
    assert operations == [
        "ProjectRunQueues",
        "CreateProject",
        "CreateDefaultResourceConfig",
        "CreateRunQueue",
    ]
    assert info.mode is QueueMode.PRIORITY
    assert sorted(names) == ["default", "gpu"]
    queue = emulator.world.queue_by_name(emulator.entity, "model-registry", "gpu")
    assert queue is not None
    assert (queue.access, queue.prioritization_mode) == ("PROJECT", "V0")
    config = emulator.world.resource_configs[queue.default_resource_config_id or ""]
    assert config.resource == "local-container"


async def test_create_existing_queue_returns_it_or_conflicts(platform: WandbPlatform) -> None:
    info = await platform.create_queue("default")
    assert info.name == "default"
    with pytest.raises(ConflictError, match="'default'"):
        await platform.create_queue("default", exist_ok=False)


async def test_queue_modes_w_and_b_does_not_have_are_config_errors(
    platform: WandbPlatform,
) -> None:
    with pytest.raises(ConfigError) as lifo:
        await platform.create_queue("q", mode=QueueMode.LIFO)
    with pytest.raises(ConfigError) as concurrency:
        await platform.create_queue("q", max_concurrency=4)
    assert (lifo.value.field, concurrency.value.field) == ("mode", "max_concurrency")


async def test_list_queues_counts_pending_items(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    for _ in range(3):
        await platform.submit(JobSpec(entrypoint="true"))
    [info] = await platform.list_queues()
    assert (info.name, info.queued, info.mode) == ("default", 3, QueueMode.FIFO)


async def test_list_and_delete_queue_items(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    ref = await platform.submit(JobSpec(entrypoint="true", idempotency_key="k1"))
    [item] = await platform.list_queue_items()
    assert item.id == ref.id.split(":")[1]
    assert item.state == "PENDING"
    assert item.run_id == ref.id.rsplit(":", 1)[1]
    await platform.delete_queue_item(item.id)
    assert await platform.list_queue_items() == []
    with pytest.raises(NotFoundError, match="'missing'"):
        await platform.list_queue_items("missing")


async def test_upsert_queue_sets_its_resource_config(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    await platform.upsert_queue("k8s", resource="kubernetes", config={"namespace": "ml"})
    queue = emulator.world.queue_by_name(emulator.entity, "model-registry", "k8s")
    assert queue is not None
    config = emulator.world.resource_configs[queue.default_resource_config_id or ""]
    assert config.resource == "kubernetes"


async def test_emulator_command_serves_graphql_with_basic_auth() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from jobrelay.cli.emulators import app; app(['wandb', '--port', '0', '--no-agent'])",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for _ in range(20):
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            if "WANDB_BASE_URL=" in line:
                url = line.strip().split("=", 1)[1]
            if "WANDB_API_KEY=" in line:
                key = line.strip().split("=", 1)[1]
                break
        assert url.startswith("http://127.0.0.1:")
        auth = "Basic " + base64.b64encode(f"api:{key}".encode()).decode()
        async with httpx.AsyncClient() as http:
            ok = await http.post(
                f"{url}/graphql",
                json={"query": "{ viewer { entity } }"},
                headers={"Authorization": auth},
            )
            denied = await http.post(f"{url}/graphql", json={"query": "{ viewer { entity } }"})
        assert ok.json() == {"data": {"viewer": {"entity": "emulator"}}}
        assert denied.status_code == 401
    finally:
        proc.terminate()
        await proc.wait()
