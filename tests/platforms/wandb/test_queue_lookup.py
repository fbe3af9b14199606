"""A run queue looked up by name (its items, or its id to delete an item from it): a queue
that does not exist is a ``NotFoundError`` naming it and where it was looked for, and
nothing is deleted."""

from __future__ import annotations

import pytest
from jobrelay import JobSpec
from jobrelay.errors import NotFoundError
from jobrelay.platforms.wandb import WandbPlatform
from jobrelay_emulators.wandb import WandbEmulator

pytestmark = pytest.mark.timeout(60)


async def test_an_item_of_a_missing_queue_is_not_found_naming_it_and_nothing_is_deleted(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    await platform.submit(JobSpec(entrypoint="true"))
    [item] = await platform.list_queue_items()
    where = f"'missing' not found in {emulator.entity}/model-registry"
    with pytest.raises(NotFoundError, match=where) as raised:
        await platform.delete_queue_item(item.id, queue="missing")
    assert raised.value.operation == "fetchRunQueuesFromProject"
    with pytest.raises(NotFoundError, match=where) as raised:
        await platform.list_queue_items("missing")
    assert raised.value.operation == "GetRunQueueItems"
    assert [i.id for i in await platform.list_queue_items()] == [item.id]
