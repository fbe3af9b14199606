"""Test-wide set-up: nothing a test does lands in the user's real jobrelay home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Node ids measured slow (see the file's header); listed rather than decorated one by one.
SLOW_TESTS = Path(__file__).with_name("slow_tests.txt")


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    listed = {
        line.strip()
        for line in SLOW_TESTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for item in items:
        if item.nodeid in listed or _on_a_ray_head(item):
            item.add_marker(pytest.mark.slow)


def _on_a_ray_head(item: pytest.Item) -> bool:
    """A test that needs a real Ray head (its start alone takes 10-30 s)."""
    if "ray_head" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "ray" in callspec.params.values()


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


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (free port) with dummy credentials in the env."""
    from moto.server import ThreadedMotoServer

    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
