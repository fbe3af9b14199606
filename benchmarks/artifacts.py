"""Artifact store throughput and memory against ``cp``, on one large file.

Run::

    uv run python benchmarks/artifacts.py                 # 1 GiB in a temp dir, 5 rounds
    uv run python benchmarks/artifacts.py --size-mib 256 --dir /mnt/fast --check

Each round measures, back to back, on one source file that is fsync-ed and then read once
so it sits in the page cache for everyone:

* ``cp`` of the source, and ``cp`` + ``fsync`` (what a put owes on top of a copy);
* ``sha256 stream``: hashlib reading the source, no copy: what one SHA-256 over the whole
  file (``sha256sum``) costs, which no number of cores can speed up;
* ``digest only``: the artifact digest of the source (SHA-256 of 4 MiB blocks, hashed on
  every core), no copy: the floor for any put or fetch, since every byte is digested;
* for each store (local; fsspec on ``file://``) ``put`` (kernel copy into a temp file,
  digest of the bytes written, one fsync, rename, index) and ``fetch`` (kernel copy into a
  hidden sibling, digest of the bytes written, compare, rename), and ``cp`` of that
  store's blob to the fetch's destination (``<store> cp``, see below).

Store operations and the two hashing rows run in a fresh child process that reports its wall
time and its peak RSS growth over its own baseline (``resource.getrusage`` after imports
and a warm-up put), so one operation's memory cannot hide another's; ``cp`` is timed
around its process, start-up included. ``os.sync()`` runs before every operation, so none
pays for another's writeback. Columns: best and median of the rounds; ``x cp`` is the
fastest ``cp`` of the run over the operation's best (the acceptance figure); ``(median)``
the median round-start ``cp`` over the operation's median; ``x cp+fsync`` best over best;
RSS the worst round.

Why a fetch has a ``cp`` next to it: this VM hands freed memory back to its host (free
page reporting), and memory the host took back costs ~3 s per GiB to touch again. A fetch
runs while the blob just put is cached, so it needs a GiB more memory than the round's
first ``cp``; measured without a partner it took 2.6-2.9 s for that reason alone (the
"2.56 s" fsspec fetch of the figures before these). So a ``cp`` of the same blob to the
same destination runs beside each fetch, in the same state, and which of the two goes
first alternates between rounds.

Targets: throughput >= 0.5x cp for both stores, peak RSS growth <= 64 MiB. A put also
owes an fsync (``cp`` does not), so puts are checked against ``cp + fsync`` as well.
``--check`` exits 1 when a target against ``cp`` is missed.

Last figures (1 GiB, 7 rounds, 2 vCPUs at load 0.6-1.0, SHA-NI SHA-256 ~1.7 GB/s a core)::

                    op      best s  median   MiB/s   x cp (median) x cp+fsync  RSS +MiB
    cp              copy      0.27    0.30   3,745   1.00     1.00       2.20       0.0
    cp + fsync      copy      0.60    0.64   1,703   0.45     0.46       1.00       0.0
    sha256 stream   read      0.67    0.70   1,519   0.41     0.43       0.89       0.0
    digest only     read      0.42    0.44   2,422   0.65     0.68       1.42       0.0
    local           put       0.59    0.63   1,734   0.46     0.47       1.02      21.4
    local           cp        0.29    2.71   3,584   0.96     0.11       2.10       0.0
    local           fetch     0.54    1.45   1,897   0.51     0.20       1.11      21.4
    fsspec file://  put       0.61    0.65   1,676   0.45     0.46       0.98      20.7
    fsspec file://  cp        0.30    0.34   3,359   0.90     0.88       1.97       0.0
    fsspec file://  fetch     0.52    2.57   1,957   0.52     0.12       1.15      20.6

Three earlier runs of the same put and fetch code that hour (3, 7 and 9 rounds): fetches
0.54-0.55x, 0.47-0.49x and 0.50x, puts 0.48-0.51x, 0.40-0.44x and 0.45-0.46x of that
run's fastest cp, puts 0.83-1.00x of cp + fsync. Those runs hashed ``digest only`` from a
mapping (0.30-0.32 s, 0.82-0.94x cp); it now reads into a buffer (``hash_file`` may be
handed anyone's file, and a mapped file truncated by another process is a SIGBUS), which
costs a copy: 0.42 s. Puts and fetches still hash their own temp copies mapped. The
medians of 1.45-2.71 s are the host taking memory back (see above; the ``cp`` partners
suffer the same).

Reading them: the digest alone now runs at 0.65-0.94x cp (both cores hash blocks), where
one SHA-256 stream is 0.38-0.44x; the single-stream digest of the figures before (0.72-0.75 s for
every put and fetch, 0.42-0.44x) was the bottleneck. What is left is the machine: a put or
fetch must copy the bytes *and* hash them, about 0.3 + 0.6 CPU-seconds per GiB here, which
two cores cannot do in less than ~0.47 s, and a put must also get the bytes to disk, so it
cannot beat ``cp + fsync`` (it reaches 0.83-1.02x of it), which on this VM's disk is itself
only 0.45-0.52x of a plain ``cp``. Fetches reach 0.47-0.55x of the fastest cp.
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

    if op in ("sha256", "digest"):
        from jobrelay.artifacts.digests import hash_file

        baseline = _peak_rss_bytes()
        start = time.perf_counter()
        if op == "digest":
            hash_file(src)  # the floor for a put or fetch: every byte is digested
        else:
            with open(src, "rb", buffering=0) as f:
                hashlib.file_digest(f, "sha256")  # one stream, what sha256sum does
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


def _largest_blob(store_dir: Path) -> Path:
    return max((p for p in (store_dir / "blobs").rglob("*") if p.is_file()), key=_size)


def _size(path: Path) -> int:
    return path.stat().st_size


def _one_round(work: Path, src: Path, index: int) -> dict[tuple[str, str], dict[str, float]]:
    """Every operation once, each starting with nothing left to write back.

    A fetch runs while the blob just put is in the page cache, so it needs a GiB of
    memory more than ``cp`` of the source did; a ``cp`` of the same blob to the same
    destination runs next to it, in the same state, and which of the two goes first
    alternates between rounds (the second reuses the memory the first freed).
    """
    dest = work / "out.bin"
    figures: dict[tuple[str, str], dict[str, float]] = {}

    def measure(key: tuple[str, str], run: Callable[[], dict[str, float]]) -> None:
        os.sync()  # the previous operation's dirty pages are not this one's to write
        figures[key] = run()
        dest.unlink(missing_ok=True)

    measure(("cp", "copy"), partial(_time_cp, src, dest))
    measure(("cp + fsync", "copy"), partial(_time_cp, src, dest, durable=True))
    measure(("sha256 stream", "read"), partial(_run_child, "sha256", "", src, dest))
    measure(("digest only", "read"), partial(_run_child, "digest", "", src, dest))
    for label, template in STORES.items():
        url = template.format(work=work)
        store_dir = Path(url.removeprefix("file://"))
        measure((label, "put"), partial(_run_child, "put", url, src, dest))
        pair = [
            ((label, "fetch"), partial(_run_child, "fetch", url, src, dest)),
            ((label, "cp"), partial(_time_cp, _largest_blob(store_dir), dest)),
        ]
        for key, run in pair if index % 2 else pair[::-1]:
            measure(key, run)
        shutil.rmtree(store_dir)  # every round puts into an empty store
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
        rounds = [_one_round(work, src, index) for index in range(args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _report(args, rounds, load_before)


def _report(
    args: argparse.Namespace, rounds: list[dict[tuple[str, str], dict[str, float]]], load: float
) -> int:
    def seconds(key: tuple[str, str]) -> list[float]:
        return [figures[key]["seconds"] for figures in rounds]

    durable = min(seconds(("cp + fsync", "copy")))
    print(
        f"file size: {args.size_mib} MiB, {args.repeat} rounds, "
        f"load {load:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    print(
        f"{'':<15} {'op':<6} {'best s':>7} {'median':>7} {'MiB/s':>7} {'x cp':>6} "
        f"{'(median)':>8} {'x cp+fsync':>10} {'RSS +MiB':>9}"
    )
    # The strictest baseline: the fastest cp of the run, wherever it ran. Medians are
    # against the cp at the start of each round, which always runs in the same state.
    cp_best = min(min(seconds(key)) for key in rounds[0] if key[1] in ("cp", "copy"))
    cp_median = statistics.median(seconds(("cp", "copy")))
    missed: list[str] = []
    missed_durable: list[str] = []
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
        below = ratio < TARGET_RATIO or rss > TARGET_RSS_MIB * MIB
        if label in STORES and op != "cp" and below:
            missed.append(f"{label} {op}")
        if label in STORES and op == "put" and durable / best < TARGET_RATIO:
            missed_durable.append(f"{label} {op}")
    verdict = "all targets met" if not missed else "missed: " + ", ".join(missed)
    print(f"targets: >= {TARGET_RATIO}x cp (best), <= {TARGET_RSS_MIB} MiB RSS -> {verdict}")
    verdict = "met" if not missed_durable else "missed: " + ", ".join(missed_durable)
    print(f"puts against cp + fsync (the same durability), >= {TARGET_RATIO}x -> {verdict}")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _, _, op_name, url_arg, src_arg, dest_arg = sys.argv
        figures = asyncio.run(_child(op_name, url_arg, Path(src_arg), Path(dest_arg)))
        print(json.dumps(figures))
    else:
        raise SystemExit(main())
