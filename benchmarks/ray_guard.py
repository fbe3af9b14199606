"""Ray: what the start guard costs every job (core/src/jobrelay/platforms/ray/guard.py).

Submits the same trivial job with and without the guard in front of its entrypoint,
alternating, one at a time, on a real Ray head on loopback, and reports medians of:

- submit -> RUNNING: from the POST to the first GET that shows RUNNING (20 ms polls);
- submit -> entrypoint start: from the POST to the entrypoint's first instruction, a
  ``date +%s.%N`` it prints (same machine, same clock);
- guard check: how long the check took inside the job (the difference, per pair).

The jobs are submitted the way RayPlatform.submit does (same body, same guard); only the
guard is switched. Starts its own Ray head unless ``--url http://127.0.0.1:PORT`` names one.

    uv run python benchmarks/ray_guard.py [--runs 7] [--url http://127.0.0.1:8265]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx
from jobrelay import JobSpec
from jobrelay.platforms.ray import guard, payloads
from jobrelay_emulators.ray_head import RayHead

ENTRYPOINT = "date +%s.%N"


def body(guarded: bool) -> dict[str, Any]:
    submission_id = payloads.new_submission_id()
    nonce = uuid.uuid4().hex
    data = payloads.build_submit_body(
        JobSpec(entrypoint=ENTRYPOINT), submission_id=submission_id, nonce=nonce
    )
    if guarded:
        data["entrypoint"] = guard.guarded_entrypoint(
            data["entrypoint"], guard.mark_uri(submission_id, nonce)
        )
        data["runtime_env"] = {"env_vars": guard.guard_env()}
    return data


async def one_job(http: httpx.AsyncClient, guarded: bool) -> tuple[float, float]:
    """(submit -> RUNNING, submit -> entrypoint start), in seconds."""
    data = body(guarded)
    job = f"/api/jobs/{data['submission_id']}"
    submitted = time.time()
    (await http.post("/api/jobs/", json=data)).raise_for_status()
    to_running = None
    while True:
        status = (await http.get(job)).json()["status"]
        if status == "RUNNING" and to_running is None:
            to_running = time.time() - submitted
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        await asyncio.sleep(0.02)
    if status != "SUCCEEDED":
        raise RuntimeError(f"{job} ended {status}")
    log = (await http.get(f"{job}/logs")).json()["logs"]
    started = next(float(line) for line in log.splitlines() if line.replace(".", "", 1).isdigit())
    # A job fast enough to end between two polls was RUNNING for less than one poll.
    return (to_running if to_running is not None else time.time() - submitted), (
        started - submitted
    )


async def measure(url: str, runs: int) -> dict[bool, list[tuple[float, float]]]:
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await one_job(http, False)  # warm-up: the first job on a head is slower
        await one_job(http, True)
        for _ in range(runs):
            for guarded in (False, True):  # alternate, so load drifts hit both alike
                results[guarded].append(await one_job(http, guarded))
    return results


def report(results: dict[bool, list[tuple[float, float]]]) -> None:
    def med(guarded: bool, index: int) -> float:
        return statistics.median(r[index] for r in results[guarded]) * 1000

    check = [g[1] - p[1] for p, g in zip(results[False], results[True], strict=True)]
    runs = len(results[True])
    print(f"runs per variant: {runs} (alternating, one job at a time)")
    print(f"{'':34}{'without guard':>15}{'with guard':>12}")
    for index, name in ((0, "submit -> RUNNING (median)"), (1, "submit -> entrypoint (median)")):
        print(f"{name:<34}{med(False, index):>12.0f} ms{med(True, index):>9.0f} ms")
    print(f"guard check in the job (median of pairs): {statistics.median(check) * 1000:.0f} ms")
    print("cancel of a PENDING job: +2 requests (GET the job, PUT the mark) before the stop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--url", help="a running head's dashboard, http://127.0.0.1:PORT")
    args = parser.parse_args()
    if args.url:
        report(asyncio.run(measure(args.url, args.runs)))
        return
    with RayHead.start() as head:
        report(asyncio.run(measure(head.dashboard_url, args.runs)))


if __name__ == "__main__":
    main()
