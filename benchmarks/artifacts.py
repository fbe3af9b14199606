"""Artifact store throughput and memory against ``cp``, on one large file.

Run::

    uv run python benchmarks/artifacts.py                 # 1 GiB in a temp dir
    uv run python benchmarks/artifacts.py --size-mib 256 --dir /mnt/fast --check

For each store (the local store, and the fsspec store on ``file://``) it times ``put`` (copy
into the store, sha256 in the same pass, fsync, rename) and ``fetch`` (copy out, verify,
rename) of the same file, and ``cp`` of that file in the same run. Each operation runs in a
fresh child process that reports its wall time and its peak RSS growth over its own
baseline (``resource.getrusage`` after imports and store setup), so one operation's memory
cannot hide another's. The source stays in the page cache for every run, so ``cp`` and the
stores read it equally fast; the stores also fsync what they write, which ``cp`` does not.

Every figure is the best of ``--repeat`` runs (RSS: the worst of them).
Targets: throughput >= 0.5x cp for both stores, peak RSS growth <= 64 MiB.
``--check`` exits 1 when a target is missed.

Last figures (1 GiB, best of 5, 2 shared vCPUs at load ~4, sha256 with SHA-NI ~1.5 GB/s)::

                    op      seconds    MiB/s   x cp x cp+fsync  RSS +MiB
    cp              copy       0.45    2,273   1.00       1.76       0.0
    cp + fsync      copy       0.79    1,290   0.57       1.00       0.0
    local           put        1.32      776   0.34       0.60      12.7
    local           fetch      0.95    1,074   0.47       0.83      12.8
    fsspec file://  put        1.52      675   0.30       0.52      12.2
    fsspec file://  fetch      2.56      401   0.18       0.31      12.2

Memory is flat (4 x 4 MiB buffers). Against a page-cache ``cp`` (an in-kernel
``copy_file_range``, 2-3.7 GB/s here) 0.5x is out of reach for any copy that hashes every
byte with sha256 on one stream: sha256 alone runs at ~1.5 GB/s on this CPU, an upper bound
of ~0.4-0.6x. Against ``cp`` plus the fsync a put owes, puts reach ~0.5-0.6x.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

MIB = 2**20
TARGET_RATIO = 0.5
TARGET_RSS_MIB = 64
STORES = {"local": "{work}/local-store", "fsspec file://": "file://{work}/fs-store"}


def _peak_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


async def _child(op: str, store_url: str, src: Path, dest: Path) -> dict[str, float]:
    """One measured operation, in this (fresh) process: wall seconds and peak RSS growth."""
    from jobrelay.artifacts import open_store

    if op == "sha256":
        baseline = _peak_rss_bytes()
        start = time.perf_counter()
        with open(src, "rb", buffering=0) as f:
            hashlib.file_digest(f, "sha256")  # the floor for anything that hashes every byte
        return {"seconds": time.perf_counter() - start, "rss": _peak_rss_bytes() - baseline}
    store = open_store(store_url)
    warm = dest.parent / "warm.txt"
    warm.write_text("warm-up")  # opens the index, thread pool, imports: not the copy
    await store.put("warm", warm)
    baseline = _peak_rss_bytes()
    start = time.perf_counter()
    if op == "put":
        await store.put("big", src)
    else:
        await store.fetch("big:latest", dest)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss": _peak_rss_bytes() - baseline}


def _run_child(op: str, store_url: str, src: Path, dest: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", op, store_url, str(src), str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{op} on {store_url} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout))


def _time_cp(src: Path, dest: Path, *, durable: bool = False) -> dict[str, float]:
    """Seconds ``cp`` takes; ``durable`` adds the fsync a store's put also pays for."""
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dest)], check=True)
    if durable:
        fd = os.open(dest, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    seconds = time.perf_counter() - start
    dest.unlink()
    return {"seconds": seconds, "rss": 0.0}


def _make_source(path: Path, size: int) -> None:
    chunk = os.urandom(16 * MIB)
    with open(path, "wb") as out:
        for offset in range(0, size, len(chunk)):
            out.write(chunk[: min(len(chunk), size - offset)])
        out.flush()
        os.fsync(out.fileno())  # no writeback of the source during the measurements
    with open(path, "rb") as warm:
        while warm.read(16 * MIB):  # in the page cache for cp and every store alike
            pass


def _one_round(work: Path, src: Path) -> dict[tuple[str, str], dict[str, float]]:
    """Every operation once, cp first, each starting with nothing left to write back."""
    dest = work / "out.bin"
    figures: dict[tuple[str, str], dict[str, float]] = {}

    def measure(key: tuple[str, str], run: Callable[[], dict[str, float]]) -> None:
        os.sync()  # the previous operation's dirty pages are not this one's to write
        figures[key] = run()
        dest.unlink(missing_ok=True)

    measure(("cp", "copy"), partial(_time_cp, src, dest))
    measure(("cp + fsync", "copy"), partial(_time_cp, src, dest, durable=True))
    measure(("sha256 only", "read"), partial(_run_child, "sha256", "", src, dest))
    for label, template in STORES.items():
        url = template.format(work=work)
        for op in ("put", "fetch"):
            measure((label, op), partial(_run_child, op, url, src, dest))
        shutil.rmtree(url.removeprefix("file://"))  # every round puts into an empty store
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; best and median kept")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()

    size = args.size_mib * MIB
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="jobrelay-bench-", dir=args.dir))
    rounds = []
    try:
        src = work / "source.bin"
        _make_source(src, size)
        # The machine is shared: every round measures cp and each store back to back, so
        # a burst of foreign load hits cp as much as the stores; best and median of rounds.
        rounds = [_one_round(work, src) for _ in range(args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _report(args, rounds, load_before)


def _report(
    args: argparse.Namespace, rounds: list[dict[tuple[str, str], dict[str, float]]], load: float
) -> int:
    def seconds(key: tuple[str, str]) -> list[float]:
        return [figures[key]["seconds"] for figures in rounds]

    cp_best, cp_median = min(seconds(("cp", "copy"))), statistics.median(seconds(("cp", "copy")))
    durable = min(seconds(("cp + fsync", "copy")))
    print(
        f"file size: {args.size_mib} MiB, {args.repeat} rounds, "
        f"load {load:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    print(
        f"{'':<15} {'op':<6} {'best s':>7} {'median':>7} {'MiB/s':>7} {'x cp':>6} "
        f"{'(median)':>8} {'x cp+fsync':>10} {'RSS +MiB':>9}"
    )
    missed = []
    for label, op in rounds[0]:
        times = seconds((label, op))
        best, median = min(times), statistics.median(times)
        ratio = cp_best / best
        rss = max(figures[(label, op)]["rss"] for figures in rounds)
        print(
            f"{label:<15} {op:<6} {best:>7.2f} {median:>7.2f} {args.size_mib / best:>7,.0f} "
            f"{ratio:>6.2f} {cp_median / median:>8.2f} {durable / best:>10.2f} "
            f"{rss / MIB:>9.1f}"
        )
        if label in STORES and (ratio < TARGET_RATIO or rss > TARGET_RSS_MIB * MIB):
            missed.append(f"{label} {op}")
    verdict = "all targets met" if not missed else "missed: " + ", ".join(missed)
    print(f"targets: >= {TARGET_RATIO}x cp (best), <= {TARGET_RSS_MIB} MiB RSS -> {verdict}")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _, _, op_name, url_arg, src_arg, dest_arg = sys.argv
        figures = asyncio.run(_child(op_name, url_arg, Path(src_arg), Path(dest_arg)))
        print(json.dumps(figures))
    else:
        raise SystemExit(main())
