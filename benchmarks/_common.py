"""Shared set-up for the local-platform benchmarks: a fresh home, a warm agent, cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import statistics
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from jobrelay import AsyncClient, JobSpec


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


@contextlib.asynccontextmanager
async def warm_local_client(**options: object) -> AsyncIterator[AsyncClient]:
    """A client on a throwaway local home whose agent has already started."""
    with tempfile.TemporaryDirectory(prefix="jrbench-") as tmp:
        home = Path(tmp) / "home"
        client = AsyncClient(f"local://{home}", **options)
        try:
            await client.run(JobSpec(entrypoint="true"))  # starts the agent; not measured
            yield client
        finally:
            await client.aclose()
            with sqlite3.connect(home / "jobrelay.db") as conn:
                for (pid,) in conn.execute("SELECT pid FROM agents"):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
