"""The official SDK's own wait, driven by ``benchmarks/hosted_wait.py`` in a throwaway env:

    uv run --isolated --no-project --with anyscale==0.26.112 python hosted_sdk_wait.py anyscale ID
    uv run --isolated --no-project --with fused==2.9.5 python hosted_sdk_wait.py fused ID HOME

The environment points the SDK at an emulator: ``ANYSCALE_HOST`` and ``ANYSCALE_CLI_TOKEN``;
for Fused ``FUSED_AUTH_TOKEN`` (always a token: without one the SDK opens a browser login)
and ``HOME``, a throwaway folder whose ``.fused/settings.toml`` names the base URL (set here,
before the import, so that uv itself keeps the real home). ``ID`` is a finished job:
waiting for it once warms the SDK up.
Then it prints ``ready`` and reads stdin: each line is a job id, waited for at once in a
thread of its own with the SDK's public wait at its default interval (Anyscale
``anyscale.job.wait``: 10 s; Fused ``job_wait_for_job``: 5 s); a line ``end`` joins them
and prints one JSON line ``{id: {"returned_at": epoch s, "state": ...}}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable

TIMEOUT_S = 180


def anyscale_waiter() -> Callable[[str], str]:
    import anyscale  # type: ignore[import-not-found]

    def wait(job_id: str) -> str:
        anyscale.job.wait(id=job_id, timeout_s=TIMEOUT_S)  # raises unless SUCCEEDED
        return "SUCCEEDED"

    return wait


def fused_waiter(home: str) -> Callable[[str], str]:
    os.environ["HOME"] = home  # fused reads ~/.fused/settings.toml when imported
    import fused  # type: ignore[import-not-found]

    def wait(job_id: str) -> str:
        return str(fused.api.job_wait_for_job(job_id, timeout=TIMEOUT_S).job_status)

    return wait


def main(argv: list[str]) -> None:
    wait = fused_waiter(argv[2]) if argv[0] == "fused" else anyscale_waiter()
    warm_id = argv[1]
    wait(warm_id)
    print("ready", flush=True)
    seen: dict[str, dict[str, object]] = {}
    threads: list[threading.Thread] = []

    def one(job_id: str) -> None:
        try:
            state = wait(job_id)
        except Exception as exc:  # reported to the benchmark, which fails the trial
            state = f"error: {exc!r}"
        seen[job_id] = {"returned_at": time.time(), "state": state}

    for line in sys.stdin:
        job_id = line.strip()
        if job_id == "end":
            for thread in threads:
                thread.join()
            print(json.dumps(seen), flush=True)
            seen, threads = {}, []
        elif job_id:
            thread = threading.Thread(target=one, args=(job_id,), daemon=True)
            thread.start()
            threads.append(thread)


if __name__ == "__main__":
    main(sys.argv[1:])
