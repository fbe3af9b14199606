"""One job end to end from a Dagster asset (materialized with ``JobRelayResource`` on the
local platform).

Run by ``tests/test_floors.py`` in a throwaway environment at Dagster's declared floor, with
``$JOBRELAY_HOME`` set to a fresh home: prints the materialization's state and the job's
output.
"""

# No ``from __future__ import annotations``: Dagster reads the context's annotation as a type.
import os
import sys

import dagster as dg
from dagster_jobrelay import JobRelayResource
from jobrelay import Client

PLATFORM = f"local://{os.environ['JOBRELAY_HOME']}"


@dg.asset
def floor_smoke(
    context: dg.AssetExecutionContext, jobrelay: JobRelayResource
) -> dg.MaterializeResult:
    return jobrelay.run(
        context,
        {"entrypoint": [sys.executable, "-c", "print('ran at the floor')"], "name": "floor"},
    )


def main() -> None:
    result = dg.materialize(
        [floor_smoke], resources={"jobrelay": JobRelayResource(platform=PLATFORM)}
    )
    assert result.success
    with Client(PLATFORM) as client:
        (job,) = client.list_jobs()
        print(" ".join(line.text for line in client.tail_logs(job.ref)))
        print("state", job.state.value)


if __name__ == "__main__":
    main()
