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
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20
TARGET_RATIO = 0.5
TARGET_RSS_MIB = 64


def _peak_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


async def _child(op: str, store_url: str, src: Path, dest: Path) -> dict[str, float]:
    from jobrelay.artifacts import open_store

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
    return {"seconds": seconds, "rss_growth": _peak_rss_bytes() - baseline}


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


def _time_cp(src: Path, dest: Path, *, durable: bool = False) -> float:
    """Seconds ``cp`` takes; ``durable`` adds the fsync a store's put also pays for."""
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dest)], check=True)
    if durable:
        fd = os.open(dest, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    seconds = time.perf_counter() - start
    dest.unlink()
    return seconds


def _make_source(path: Path, size: int) -> None:
    chunk = os.urandom(16 * MIB)
    with open(path, "wb") as out:
        for offset in range(0, size, len(chunk)):
            out.write(chunk[: min(len(chunk), size - offset)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is kept")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()

    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="jobrelay-bench-", dir=args.dir))
    try:
        src = work / "source.bin"
        _make_source(src, size)
        # The disk is shared with whatever else runs: keep the best of a few runs of
        # every figure (cp included) so a burst of foreign I/O does not decide the ratio.
        cp_seconds = min(_time_cp(src, work / "cp.bin") for _ in range(args.repeat))
        durable = min(_time_cp(src, work / "cp.bin", durable=True) for _ in range(args.repeat))
        rows = [("cp", "copy", cp_seconds, 0.0), ("cp + fsync", "copy", durable, 0.0)]
        stores = {"local": str(work / "local-store"), "fsspec file://": f"file://{work}/fs-store"}
        for label, url in stores.items():
            for op in ("put", "fetch"):
                results = []
                for attempt in range(args.repeat):
                    if op == "put" and attempt:
                        shutil.rmtree(url.removeprefix("file://"))  # a put that copies again
                    dest = work / "fetched.bin"
                    results.append(_run_child(op, url, src, dest))
                    dest.unlink(missing_ok=True)
                best = min(results, key=lambda r: r["seconds"])
                peak = max(r["rss_growth"] for r in results)
                rows.append((label, op, best["seconds"], peak))
            shutil.rmtree(url.removeprefix("file://"), ignore_errors=True)  # keep disk use low
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"file size: {args.size_mib} MiB, best of {args.repeat}, load {os.getloadavg()[0]:.1f}")
    head = f"{'':<15} {'op':<6} {'seconds':>8} {'MiB/s':>8} {'x cp':>6} {'x cp+fsync':>10}"
    print(f"{head} {'RSS +MiB':>9}")
    missed = []
    for label, op, seconds, rss in rows:
        ratio = cp_seconds / seconds
        print(
            f"{label:<15} {op:<6} {seconds:>8.2f} {args.size_mib / seconds:>8,.0f} "
            f"{ratio:>6.2f} {durable / seconds:>10.2f} {rss / MIB:>9.1f}"
        )
        if not label.startswith("cp") and (ratio < TARGET_RATIO or rss > TARGET_RSS_MIB * MIB):
            missed.append(f"{label} {op}")
    verdict = "all targets met" if not missed else "missed: " + ", ".join(missed)
    print(f"targets: >= {TARGET_RATIO}x cp, <= {TARGET_RSS_MIB} MiB RSS growth -> {verdict}")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _, _, op_name, url_arg, src_arg, dest_arg = sys.argv
        figures = asyncio.run(_child(op_name, url_arg, Path(src_arg), Path(dest_arg)))
        print(json.dumps(figures))
    else:
        raise SystemExit(main())
