"""A job-submitting process for the reattach test: submit under a key, print the ref, wait.

    python reattach_worker.py PLATFORM_URL KEY ENTRYPOINT

Prints one JSON line with the JobRef as soon as it is submitted (or reattached), then
waits for the job and exits 0 when it succeeded.
"""

from __future__ import annotations

import asyncio
import sys

from jobrelay import AsyncClient, JobSpec


async def main(url: str, key: str, entrypoint: str) -> int:
    async with AsyncClient(url) as client:
        ref = await client.submit(JobSpec(entrypoint=entrypoint, idempotency_key=key))
        print(ref.model_dump_json(), flush=True)
        result = await client.wait(ref, raise_on_failure=False)
        print(result.state.value, flush=True)
        return 0 if result.state.is_success else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
