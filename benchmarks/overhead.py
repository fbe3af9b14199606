"""(a) submit-to-SUCCEEDED overhead and (b) detection latency on the local platform.

(a) runs `true` through jobrelay (submit, then wait until SUCCEEDED) and compares it with a
bare `subprocess.run(["true"])` measured in the same run; both medians of N runs.
(b) each job writes `time.time()` as its very last act; the client notes when it first sees
SUCCEEDED; latency = seen - written.

    uv run python benchmarks/overhead.py [N]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median_ms, warm_local_client
from jobrelay import JobSpec

LAST_ACT = "import sys, time; open(sys.argv[1], 'w').write(repr(time.time()))"


async def main(n: int) -> None:
    bare = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(["true"], check=True)
        bare.append(time.perf_counter() - t0)

    async with warm_local_client() as client:
        through = []
        for _ in range(n):
            t0 = time.perf_counter()
            await client.run(JobSpec(entrypoint=["true"]))
            through.append(time.perf_counter() - t0)

        latencies = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(n):
                stamp = Path(tmp) / f"t{i}"
                await client.run(JobSpec(entrypoint=[sys.executable, "-c", LAST_ACT, str(stamp)]))
                seen = time.time()
                latencies.append(seen - float(stamp.read_text()))

    print(f"runs per measure: {n}")
    print(f"bare subprocess.run(['true']) median: {median_ms(bare):8.1f} ms")
    print(f"jobrelay submit->SUCCEEDED median:    {median_ms(through):8.1f} ms")
    print(
        f"overhead (median difference):         {median_ms(through) - median_ms(bare):8.1f} ms"
        "   target <= 150 ms"
    )
    print(
        f"detection latency median:             {median_ms(latencies):8.1f} ms   target <= 100 ms"
    )
    print(f"detection latency max:                {max(latencies) * 1000:8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
