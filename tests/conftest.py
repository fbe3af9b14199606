"""Test-wide set-up: nothing a test does lands in the user's real jobrelay home."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def isolated_jobrelay_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("jobrelay-home")
    previous = os.environ.get("JOBRELAY_HOME")
    os.environ["JOBRELAY_HOME"] = str(home)
    yield
    from tests.platforms.conftest import kill_local_agents

    kill_local_agents(home)
    if previous is None:
        os.environ.pop("JOBRELAY_HOME", None)
    else:
        os.environ["JOBRELAY_HOME"] = previous
