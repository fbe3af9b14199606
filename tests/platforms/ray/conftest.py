"""Fixtures for the Ray platform tests: the session's real Ray head (see ../ray_cluster.py)
and transports that count or break requests on their way to it."""

from __future__ import annotations

import os
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from jobrelay import AsyncClient
from jobrelay_emulators.ray_head import RayHead

from tests.platforms.ray_cluster import shared_head


@pytest.fixture(scope="session")
def ray_head() -> RayHead:
    return shared_head()


@pytest.fixture
def ray_url(ray_head: RayHead) -> str:
    return ray_head.platform_url


@pytest.fixture
def cli_env(ray_head: RayHead) -> dict[str, str]:
    """The environment for Ray's own CLI: this head, nothing inherited that points elsewhere."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")
    }
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to a real transport; records them and can fail chosen ones first.

    ``faults`` are consumed in order by requests for which ``matches`` is true: an int is
    answered with that HTTP status, an exception instance is raised (a reset, a timeout).
    """

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    faults: list[int | Exception] = field(default_factory=list)
    matches: Callable[[httpx.Request], bool] = lambda request: False
    requests: list[httpx.Request] = field(default_factory=list)
    injected: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults and self.matches(request):
            fault = self.faults.pop(0)
            self.injected += 1
            if isinstance(fault, Exception):
                raise fault
            return httpx.Response(fault, text="injected fault", request=request)
        return await self.inner.handle_async_request(request)

    def count(self, method: str, path_prefix: str) -> int:
        return sum(
            1 for r in self.requests if r.method == method and r.url.path.startswith(path_prefix)
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(ray_url: str, recorder: Recorder) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(ray_url, transport=recorder) as c:
        yield c


def make_modules(root: Path) -> dict[str, Path]:
    """A package folder, a one-file module and a wheel, as ``py_modules`` entries."""
    (root / "mypkg" / "__pycache__").mkdir(parents=True)
    (root / "mypkg" / "__init__.py").write_text("VALUE = 'from-folder'\n")
    (root / "mypkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (root / "mypkg" / ".gitignore").write_text("scratch.txt\n")
    (root / "mypkg" / "scratch.txt").write_text("x")
    (root / "helper.py").write_text("VALUE = 'from-file'\n")
    wheel = root / "wheelmod-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("wheelmod/__init__.py", "VALUE = 'from-wheel'\n")
        info = "wheelmod-1.0.dist-info/"
        archive.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: wheelmod\nVersion: 1.0\n")
        wheel_meta = (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(info + "WHEEL", wheel_meta)
        archive.writestr(info + "RECORD", "")
    return {"folder": root / "mypkg", "file": root / "helper.py", "wheel": wheel}
