"""(a) submit-to-SUCCEEDED overhead and (b) detection latency on the local platform.

(a) runs `true` through jobrelay (submit, then wait until SUCCEEDED) and compares it with a
bare `subprocess.run(["true"])` measured in the same run; both medians of N runs.
(b) each job writes `time.time()` as its very last act; the client notes when it first sees
SUCCEEDED (its `on_update` callback); latency = seen - written, split at the `ended_at` the
agent records; also until `run()` returns (the result with its outputs read). Both with the
agent's change announcements (as shipped) and without them (the hub polls: the figures
before), in turns in one run. The floor, in the same turns: the same job run by a bare
`subprocess.run`, whose return is the OS telling its parent the process exited (the job's
interpreter shutdown after its write is in every figure).

    uv run python benchmarks/overhead.py [N]
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median_ms, warm_local_client
from jobrelay import JobSpec, JobUpdate

LAST_ACT = "import sys, time; open(sys.argv[1], 'w').write(repr(time.time()))"


def _first_end(seen: list[float], update: JobUpdate) -> None:
    if update.status.state.is_terminal and not seen:
        seen.append(time.time())
        ended = update.status.ended_at  # when the agent recorded the end
        seen.append(ended.timestamp() if ended is not None else float("nan"))


async def main(n: int) -> None:
    bare = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(["true"], check=True)
        bare.append(time.perf_counter() - t0)

    # Two clients on one warm home, measured in turns: "notified" is the platform as it is
    # (the agent announces each state change; the status hub ticks on it), "polling" has
    # the announcements switched off for its hub, so it sees a change at its next poll
    # (local policy 10 ms backing off to 50 ms): the figures before the notification.
    async with warm_local_client() as client, warm_local_client() as polling_client:
        polling_platform = await polling_client.platform()
        polling_platform.subscribe_changes = None  # type: ignore[attr-defined,method-assign]
        modes = {"notified": client, "polling": polling_client}
        through: dict[str, list[float]] = {mode: [] for mode in modes}
        latencies: dict[str, list[float]] = {mode: [] for mode in modes}
        returns: dict[str, list[float]] = {mode: [] for mode in modes}
        agent_part: dict[str, list[float]] = {mode: [] for mode in modes}
        floor: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(n):
                for mode, c in modes.items():
                    t0 = time.perf_counter()
                    await c.run(JobSpec(entrypoint=["true"]))
                    through[mode].append(time.perf_counter() - t0)
                    stamp = Path(tmp) / f"{mode}{i}"
                    seen: list[float] = []
                    await c.run(
                        JobSpec(entrypoint=[sys.executable, "-c", LAST_ACT, str(stamp)]),
                        on_update=functools.partial(_first_end, seen),
                    )
                    returned = time.time()
                    ended = float(stamp.read_text())
                    latencies[mode].append(seen[0] - ended)
                    agent_part[mode].append(seen[1] - ended)
                    returns[mode].append(returned - ended)
                stamp = Path(tmp) / f"floor{i}"
                subprocess.run([sys.executable, "-c", LAST_ACT, str(stamp)], check=True)
                floor.append(time.time() - float(stamp.read_text()))

    print(f"runs per measure: {n}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"bare subprocess.run(['true']) median: {median_ms(bare):8.1f} ms")
    for mode in ("polling", "notified"):
        print(f"[{mode}]")
        print(f"  jobrelay submit->SUCCEEDED median:  {median_ms(through[mode]):8.1f} ms")
        print(
            "  overhead (median difference):       "
            f"{median_ms(through[mode]) - median_ms(bare):8.1f} ms   target <= 150 ms"
        )
        print(f"  detection latency median:           {median_ms(latencies[mode]):8.1f} ms")
        print(f"  detection latency max:              {max(latencies[mode]) * 1000:8.1f} ms")
        print(f"  ... to run() returning (outputs in): {median_ms(returns[mode]):8.1f} ms median")
        # The split: last write -> the agent records the end (the job's exit, its log pipes
        # drained, the row written), then -> the client's callback (announcement, hub tick,
        # status read).
        recorded = median_ms(agent_part[mode])
        print(f"  ... of which to the end's record:    {recorded:8.1f} ms median")
    print(f"[floor] subprocess.run of the same job sees its end: {median_ms(floor):.1f} ms median")
    print(f"detection latency median: {median_ms(latencies['notified']):.1f} ms   target <= 5 ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
