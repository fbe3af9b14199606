"""The overhead ``JobRelayResource.run`` adds over calling the core client directly, in the
same Dagster run.

One asset, materialized on a temporary Dagster instance, runs the same short job
(``echo``, one log line) N times each way, interleaved:

- **direct**: the core's sync ``Client``, opened once for the step, ``client.run(spec,
  follow_logs=True)`` with the job's lines and state changes written to ``context.log``
  by a small callback (what asset code without the integration would write);
- **resource**: ``jobrelay.run(context, spec)``: a key from the Dagster identity, a client
  opened per call on its own loop, termination handlers, the run record as metadata.

Prints the medians, their difference and ratio.

    python3 -m uv run python benchmarks/dagster_overhead.py [N]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster_jobrelay import JobRelayResource
from jobrelay import Client, JobSpec
from jobrelay.waiting import JobUpdate
from jobrelay_emulators.local_home import stop_local_home

SPEC = {"entrypoint": ["echo", "hello from the job"]}


def run_benchmark(n: int, home: Path) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"direct": [], "resource": []}

    @dg.asset
    def bench(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> None:
        def report(update: JobUpdate) -> None:
            for line in update.lines:
                context.log.info(line.text)
            if update.kind == "state":
                context.log.info(f"Job {update.status.ref.id} is {update.status.state.value}")

        with Client(f"local://{home}") as client:
            client.run(JobSpec(entrypoint=["true"]))  # starts the agent: not measured
            for _ in range(n):
                t0 = time.perf_counter()
                result = client.run(JobSpec(**SPEC), follow_logs=True, on_update=report)
                assert result.state.is_success
                timings["direct"].append(time.perf_counter() - t0)

                t0 = time.perf_counter()
                jobrelay.run(context, SPEC)
                timings["resource"].append(time.perf_counter() - t0)

    with dg.instance_for_test() as instance:
        resources = {"jobrelay": JobRelayResource(platform=f"local://{home}")}
        assert dg.materialize([bench], instance=instance, resources=resources).success
    return timings


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="jr-dagster-bench-") as tmp:
        home = Path(tmp) / "home"
        try:
            timings = run_benchmark(n, home)
        finally:
            stop_local_home(home)
    direct = statistics.median(timings["direct"]) * 1000
    through = statistics.median(timings["resource"]) * 1000
    print(f"runs per way: {n} (interleaved, one Dagster run, local platform)")
    print(f"core Client.run, follow_logs, to context.log, median: {direct:8.1f} ms")
    print(f"JobRelayResource.run, median:                        {through:8.1f} ms")
    print(f"overhead: {through - direct:+.1f} ms per job ({through / direct:.2f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
