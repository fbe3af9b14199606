"""One job end to end from a Prefect flow (the ``run_job`` task, on the local platform).

Run by ``tests/test_floors.py`` in a throwaway environment at Prefect's declared floor, with
``$JOBRELAY_HOME`` set to a fresh home: prints the run record's state and the job's output.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from jobrelay import Client, JobRef
from prefect import flow
from prefect_jobrelay import run_job

PLATFORM = f"local://{os.environ['JOBRELAY_HOME']}"


@flow
def floor_smoke(platform: str) -> Any:
    return run_job(
        platform,
        {"entrypoint": [sys.executable, "-c", "print('ran at the floor')"], "name": "floor"},
    )


def main() -> None:
    record = floor_smoke(PLATFORM)
    assert record["state"] == "SUCCEEDED", record
    with Client(PLATFORM) as client:
        ref = JobRef(platform=client.platform().url, id=record["job_id"])
        print(" ".join(line.text for line in client.tail_logs(ref)))
    print("state", record["state"])


if __name__ == "__main__":
    main()
