"""A separate process that puts files into a store: ``put_worker.py URL NAME FILE...``.

It prints ``ready``, waits for a line on stdin so several workers can start at once, then
puts each file under NAME and prints each version as one JSON line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from jobrelay.artifacts import open_store


async def main(url: str, name: str, files: list[str]) -> None:
    store = open_store(url)
    print("ready", flush=True)
    sys.stdin.readline()
    for file in files:
        ref = await store.put(name, Path(file))
        print(ref.model_dump_json(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
