"""Anyscale and Fused on their emulators: jobrelay's ``wait`` against the official SDK's.

For each platform, on one emulator the script starts, in the same run:

(g) detection latency: from a job's real end (its last act writes the wall time to a file)
    to the moment ``AsyncClient.wait`` returns, against the SDK's own wait at its default
    interval (``anyscale.job.wait``: 10 s; Fused ``job_wait_for_job``: 5 s), run by
    ``hosted_sdk_wait.py`` in a throwaway env (``uv run --isolated --no-project --with
    anyscale==0.26.112`` / ``fused==2.9.5``). TRIALS jobs each side; job k ends
    1 s + (k + 0.5) / TRIALS of the SDK's interval after its submit, so the ends fall evenly
    between the SDK's polls, as a long job's end does. Every wait is on its own: a client per
    jobrelay wait (no other job's change resets its backoff), a thread per SDK wait.
(h) 100 concurrent waiters: 100 jobs, all running before the waits begin, end 4-8 s after;
    the emulator's request log counted by path while jobrelay waits, against the hub's
    ticks (each tick's requests counted too); then 100 SDK waiters on 100 more such jobs.

Both emulators run in this process, so their threads share its GIL with the waiters.
As shipped, an emulator's answer on a kept-alive connection waits ~40 ms (headers and body
go out in two writes and Nagle's algorithm holds the second until the client's delayed
ACK), and every request pays it, the SDK's and jobrelay's alike. ``--nodelay`` sets
``disable_nagle_algorithm`` on each emulator's handler class from here (no emulator file
changes) to measure without that.

    uv run python benchmarks/hosted_wait.py [TRIALS] [--nodelay]
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import lag_summary
from jobrelay import AsyncClient, JobRef, JobSpec, JobState, JobStatus
from jobrelay_emulators.anyscale import AnyscaleEmulator
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator
from jobrelay_emulators.loopback import LoopbackEmulator
from jobrelay_emulators.request_log import RecordedRequest

DRIVER = Path(__file__).with_name("hosted_sdk_wait.py")
WAITERS = 100
# A job: once the file GO holds a start time, sleep until OFFSET s after it, then write the
# wall time to MARK and exit. As a shell entrypoint (Anyscale) and as a UDF (Fused).
UNTIL = """
import os, time
def until(go, offset, mark):
    while not os.path.exists(go):
        time.sleep(0.05)
    time.sleep(max(0.0, float(open(go).read()) + offset - time.time()))
    with open(mark, "w") as out:
        out.write(repr(time.time()))
"""
UNTIL_MAIN = UNTIL + "import sys\nuntil(sys.argv[1], float(sys.argv[2]), sys.argv[3])\n"
UNTIL_UDF = (
    UNTIL + "@fused.udf\ndef udf(go: str, offset: float, mark: str):\n    until(go, offset, mark)\n"
)


@dataclass
class Hosted:
    """One platform on its emulator: how jobrelay and the SDK reach it, and its test job."""

    name: str
    sdk: str
    sdk_wait: str
    sdk_poll_s: float
    emulator: LoopbackEmulator
    url: str
    options: dict[str, Any]
    sdk_env: dict[str, str]
    sdk_args: list[str]
    job: Callable[[Path, float, Path], JobSpec]
    running: Callable[[Sequence[str]], bool]  # read off the emulator: no request

    def client(self) -> AsyncClient:
        return AsyncClient(self.url, **self.options)


def anyscale_job(go: Path, offset: float, mark: Path) -> JobSpec:
    argv = [sys.executable, "-c", UNTIL_MAIN, str(go), f"{offset:.3f}", str(mark)]
    return JobSpec(entrypoint=shlex.join(argv), max_retries=0)


def fused_job(go: Path, offset: float, mark: Path) -> JobSpec:
    parameters = {"go": str(go), "offset": round(offset, 3), "mark": str(mark)}
    return JobSpec(entrypoint="udf", config={"code": UNTIL_UDF, "parameters": parameters})


def proxyless() -> dict[str, str]:
    return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@contextlib.contextmanager
def hosted(name: str, tmp: Path) -> Iterator[Hosted]:
    """The platform's emulator, started; stopped on the way out."""
    if name == "anyscale":
        with AnyscaleEmulator(workdir=tmp / "anyscale") as anyscale:
            token = anyscale.token
            jobs = anyscale.world.jobs
            yield Hosted(
                name,
                "anyscale==0.26.112",
                "anyscale.job.wait",
                10.0,
                anyscale,
                f"anyscale://?host={anyscale.url}",
                {"credential": token},
                {**proxyless(), "ANYSCALE_HOST": anyscale.url, "ANYSCALE_CLI_TOKEN": token},
                [],
                anyscale_job,
                lambda ids: all(jobs[i].state == "RUNNING" for i in ids),
            )
        return
    home = tmp / "fused-home"  # the SDK's HOME: .fused/settings.toml names the emulator
    with FusedEmulator(workdir=tmp / "fused") as fused:
        (home / ".fused").mkdir(parents=True)
        (home / ".fused" / "settings.toml").write_text(f'base_url = "{fused.base_url}"\n')
        runs = fused.world.jobs
        yield Hosted(
            name,
            "fused==2.9.5",
            "job_wait_for_job",
            5.0,
            fused,
            f"fused://?base_url={fused.base_url}",
            {"credential": fused.token, "token_type": TOKEN_TYPE, "artifacts": str(tmp / "store")},
            {**proxyless(), "FUSED_AUTH_TOKEN": fused.token, "FUSED_AUTH_TOKEN_TYPE": TOKEN_TYPE},
            [str(home)],
            fused_job,
            lambda ids: all(runs[i].job_status == "Running" for i in ids),
        )


def uv_command() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def go_now(go: Path) -> None:
    """Now, into ``go`` at once (a job polls for the file and must never read it half-written)."""
    part = go.with_suffix(".part")
    part.write_text(repr(time.time()))
    part.rename(go)


def end_of(mark: Path) -> float:
    return float(mark.read_text())


def spread(trials: int, over_s: float) -> list[float]:
    """Offsets 1 s + (k + 0.5) / trials of ``over_s``: ends evenly between two SDK polls."""
    return [1.0 + (k + 0.5) * over_s / trials for k in range(trials)]


async def jobrelay_lags(target: Hosted, offsets: Sequence[float], tmp: Path) -> list[float]:
    async def one(k: int, offset: float) -> float:
        go, mark = tmp / f"go-jobrelay-{k}", tmp / f"jobrelay-{k}"
        async with target.client() as client:
            go_now(go)
            ref = await client.submit(target.job(go, offset, mark))
            result = await client.wait(ref, timeout=180)
            returned = time.time()
        assert result.state is JobState.SUCCEEDED, result
        return returned - end_of(mark)

    return list(await asyncio.gather(*(one(k, s) for k, s in enumerate(offsets))))


class SdkDriver:
    """``hosted_sdk_wait.py`` in its throwaway env, warmed up on a finished job."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, target: Hosted, warm_id: str, log: Path) -> AsyncIterator[SdkDriver]:
        command = [*uv_command(), "run", "--isolated", "--no-project", "--with", target.sdk]
        command += ["python", str(DRIVER), target.name, warm_id, *target.sdk_args]
        with log.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=target.sdk_env,
            )
        driver = cls(process, log)
        try:
            if await asyncio.wait_for(driver.line(), 300) != "ready":
                raise RuntimeError(f"the SDK driver did not start: {driver.tail()}")
            yield driver
        finally:
            if process.stdin is not None:
                process.stdin.close()  # end of input: the driver exits, and uv with it
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    async def line(self) -> str:
        assert self.process.stdout is not None
        return (await self.process.stdout.readline()).decode().strip()

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def results(self, ends: Mapping[str, Path]) -> list[float]:
        """Joins the waits sent since the last call: each job's lag, in ``ends``' order."""
        await self.send("end")
        text = await self.line()
        if not text:
            raise RuntimeError(f"the SDK driver stopped: {self.tail()}")
        seen: dict[str, dict[str, Any]] = json.loads(text)
        bad = {i: r["state"] for i, r in seen.items() if r["state"] not in ("SUCCEEDED", "Done")}
        assert not bad, (bad, self.tail())
        assert sorted(seen) == sorted(ends), self.tail()
        return [seen[job_id]["returned_at"] - end_of(mark) for job_id, mark in ends.items()]


def sdk_requests(requests: Sequence[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if not r.headers.get("user-agent", "").startswith("jobrelay")]


async def sdk_lags(
    target: Hosted, driver: SdkDriver, offsets: Sequence[float], tmp: Path
) -> tuple[list[float], list[RecordedRequest]]:
    since = len(target.emulator.requests)
    ends: dict[str, Path] = {}
    async with target.client() as client:
        for k, offset in enumerate(offsets):
            go, mark = tmp / f"go-sdk-{k}", tmp / f"sdk-{k}"
            go_now(go)
            ref = await client.submit(target.job(go, offset, mark))
            await driver.send(ref.id)  # its wait starts now, as a jobrelay wait does
            ends[ref.id] = mark
    lags = await driver.results(ends)
    return lags, sdk_requests(target.emulator.requests[since:])


@dataclass
class Crowd:
    """What 100 concurrent waits cost: their requests, seconds, detection lags and, for
    jobrelay, each hub tick's requests and seconds."""

    elapsed: float
    requests: list[RecordedRequest]
    lags: list[float]
    ticks: list[tuple[int, float]]


@contextlib.asynccontextmanager
async def running_crowd(
    target: Hosted, client: AsyncClient, tmp: Path, name: str
) -> AsyncIterator[list[tuple[JobRef, Path]]]:
    """100 jobs, all running, that end 4-8 s after the block is entered (with their marks)."""
    go = tmp / f"go-{name}"
    jobs = []
    for k in range(WAITERS):
        mark = tmp / f"{name}-{k}"
        jobs.append(
            (await client.submit(target.job(go, 4.0 + 4.0 * k / (WAITERS - 1), mark)), mark)
        )
    deadline = time.monotonic() + 120
    while not target.running([ref.id for ref, _ in jobs]):
        assert time.monotonic() < deadline, "the emulator did not start 100 jobs in 120 s"
        await asyncio.sleep(0.05)
    go_now(go)
    yield jobs


async def jobrelay_waiters(target: Hosted, tmp: Path) -> Crowd:
    """100 waiters in one client; every ``statuses()`` call of its hub is counted."""
    log = target.emulator.requests
    ticks: list[tuple[int, float]] = []

    async def one(client: AsyncClient, ref: JobRef, mark: Path) -> float:
        result = await client.wait(ref, timeout=180)
        returned = time.time()
        assert result.state is JobState.SUCCEEDED, result
        return returned - end_of(mark)

    async with target.client() as client:
        platform = await client.platform()
        real_statuses = platform.statuses

        async def counted(refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
            before, t0 = len(log), time.perf_counter()
            try:
                return await real_statuses(refs)
            finally:
                ticks.append((len(log) - before, time.perf_counter() - t0))

        platform.statuses = counted  # type: ignore[method-assign]
        async with running_crowd(target, client, tmp, "crowd") as jobs:
            since, t0 = len(log), time.perf_counter()
            lags = await asyncio.gather(*(one(client, ref, mark) for ref, mark in jobs))
            elapsed = time.perf_counter() - t0
            during = log[since:]
    return Crowd(elapsed, during, list(lags), ticks)


async def sdk_waiters(target: Hosted, driver: SdkDriver, tmp: Path) -> Crowd:
    """100 SDK waiters (a thread each) on 100 more such jobs."""
    async with target.client() as client, running_crowd(target, client, tmp, "sdk-crowd") as jobs:
        since, t0 = len(target.emulator.requests), time.perf_counter()
        for ref, _ in jobs:
            await driver.send(ref.id)
        lags = await driver.results({ref.id: mark for ref, mark in jobs})
        elapsed = time.perf_counter() - t0
    return Crowd(elapsed, sdk_requests(target.emulator.requests[since:]), lags, [])


def endpoint(request: RecordedRequest) -> str:
    """Method and path with the ids folded, so that one endpoint counts as one."""
    parts = [
        "{id}" if any(c.isdigit() for c in p) and len(p) > 12 else p
        for p in request.path.split("/")
    ]
    return f"{request.method} {'/'.join(parts)}"


def by_endpoint(requests: Sequence[RecordedRequest]) -> str:
    counted = collections.Counter(endpoint(r) for r in requests)
    return ", ".join(f"{n} {path}" for path, n in counted.most_common())


def report(
    target: Hosted,
    offsets: Sequence[float],
    lags: tuple[list[float], list[float], list[RecordedRequest]],
    crowds: tuple[Crowd, Crowd],
) -> None:
    ours, theirs, sdk_calls = lags
    crowd, sdk_crowd = crowds
    print(f"== {target.name}: jobrelay and {target.sdk} on the emulator, same run")
    print(
        f"(g) detection latency, the job's end -> wait returns; {len(offsets)} jobs each, "
        f"ending {offsets[0]:.2f}-{offsets[-1]:.2f} s after submit"
    )
    print("   " + lag_summary("jobrelay AsyncClient.wait", ours, 38))
    print("   " + lag_summary(f"SDK {target.sdk_wait} ({target.sdk_poll_s:.0f} s)", theirs, 38))
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"    SDK / jobrelay, medians: {ratio:.1f}x   (SDK requests: {by_endpoint(sdk_calls)})")
    n = max(len(crowd.ticks), 1)
    print(
        f"(h) {WAITERS} concurrent waiters on running jobs ending 4-8 s later: jobrelay "
        f"{crowd.elapsed:.1f} s, {len(crowd.ticks)} hub ticks, {len(crowd.requests)} "
        f"requests = {len(crowd.requests) / n:.2f} per tick"
    )
    for path, count in collections.Counter(endpoint(r) for r in crowd.requests).most_common():
        print(
            f"      {count / n:6.2f} per tick  {count / WAITERS:5.2f} per job  {count:4d}  {path}"
        )
    sizes = collections.Counter(count for count, _ in crowd.ticks)
    print(
        "    requests in a tick: "
        + ", ".join(f"{k} ({v} ticks)" for k, v in sorted(sizes.items()))
        + f"; longest tick {max(t for _, t in crowd.ticks):.2f} s"
    )
    print("   " + lag_summary(f"{WAITERS} jobrelay waiters' lag", crowd.lags, 38))
    print(
        f"    {WAITERS} SDK waiters on 100 such jobs: {sdk_crowd.elapsed:.1f} s, "
        f"{len(sdk_crowd.requests)} requests = {len(sdk_crowd.requests) / WAITERS:.2f} per job "
        f"({by_endpoint(sdk_crowd.requests)})"
    )
    print("   " + lag_summary(f"{WAITERS} SDK waiters' lag", sdk_crowd.lags, 38))
    print(
        f"    requests per second while waiting: jobrelay "
        f"{len(crowd.requests) / crowd.elapsed:.1f}, SDK "
        f"{len(sdk_crowd.requests) / sdk_crowd.elapsed:.1f}"
    )


async def bench(target: Hosted, trials: int, tmp: Path) -> None:
    offsets = spread(trials, target.sdk_poll_s)
    go = tmp / "go-warm"
    go_now(go)
    async with target.client() as client:  # also the SDK's warm-up job; not measured
        warm = await client.run(target.job(go, 0.0, tmp / "warm"))
    ours = await jobrelay_lags(target, offsets, tmp)
    crowd = await jobrelay_waiters(target, tmp)
    async with SdkDriver.started(target, warm.ref.id, tmp / "sdk.log") as driver:
        theirs, sdk_calls = await sdk_lags(target, driver, offsets, tmp)
        sdk_crowd = await sdk_waiters(target, driver, tmp)
    report(target, offsets, (ours, theirs, sdk_calls), (crowd, sdk_crowd))


async def main(trials: int, nodelay: bool) -> None:
    for platform in ("anyscale", "fused"):
        t0 = time.perf_counter()
        with (
            tempfile.TemporaryDirectory(prefix=f"jrbench-{platform}-") as name,
            hosted(platform, Path(name)) as target,
        ):
            if nodelay:  # answers sent at once, not held back by Nagle's algorithm
                target.emulator._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
            load = os.getloadavg()[0]
            await bench(target, trials, Path(name))
        print(
            f"    ({platform}: {time.perf_counter() - t0:.0f} s; load average "
            f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)",
            flush=True,
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--nodelay"]
    asyncio.run(main(int(args[0]) if args else 20, "--nodelay" in sys.argv[1:]))
