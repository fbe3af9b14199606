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
