"""Shared set-up for the local-platform benchmarks: a fresh home, a warm agent, cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import statistics
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from jobrelay import AsyncClient, JobSpec


def isolated_prefect(prefix: str, **extra: str) -> Path:
    """A fresh temporary folder whose ``prefect`` subfolder becomes ``PREFECT_HOME``, with
    Prefect's analytics off and its server logging warnings only (``extra``: more variables).
    Call it before anything imports prefect, which reads its settings once."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        {
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
            **extra,
        }
    )
    return tmp


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


def lag_summary(name: str, lags: Sequence[float], width: int = 46) -> str:
    """Median, p90 and max of ``lags`` (seconds) in ms, after ``name``."""
    ms = sorted(x * 1000 for x in lags)
    p90 = ms[max(0, int(len(ms) * 0.9) - 1)]
    return (
        f"{name:<{width}} median {median_ms(lags):6.0f} ms   p90 {p90:6.0f} ms   "
        f"max {ms[-1]:6.0f} ms   (n={len(ms)})"
    )


@contextlib.asynccontextmanager
async def warm_local_client(**options: Any) -> AsyncIterator[AsyncClient]:
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
