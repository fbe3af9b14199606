"""(c) 200 trivial jobs at concurrency 2 through jobrelay vs `xargs -P2` in the same run.

uv run python benchmarks/throughput.py [JOBS]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from _common import warm_local_client
from jobrelay import JobSpec


async def main(jobs: int) -> None:
    t0 = time.perf_counter()
    subprocess.run(["xargs", "-P2", "-n1", "true"], input="x\n" * jobs, text=True, check=True)
    xargs_s = time.perf_counter() - t0

    async with warm_local_client() as client:
        await client.create_queue("bench", max_concurrency=2)
        t0 = time.perf_counter()
        refs = [
            await client.submit(JobSpec(entrypoint=["true"], queue="bench")) for _ in range(jobs)
        ]
        results = await asyncio.gather(*(client.wait(r) for r in refs))
        jobrelay_s = time.perf_counter() - t0
    assert all(r.state.is_success for r in results)

    print(f"jobs: {jobs}, concurrency 2")
    print(f"xargs -P2:  {jobs / xargs_s:8.1f} jobs/s ({xargs_s:.2f} s)")
    print(f"jobrelay:   {jobs / jobrelay_s:8.1f} jobs/s ({jobrelay_s:.2f} s)   target >= 20 jobs/s")
    print(f"ratio jobrelay/xargs: {xargs_s / jobrelay_s:.3f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
