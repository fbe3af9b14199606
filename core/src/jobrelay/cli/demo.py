"""``jobrelay demo``: a small ML pipeline on the embedded local platform.

Four jobs run through a queue of concurrency 1 in three stages:

1. ``prepare-train`` and ``prepare-test`` are submitted together, so the second visibly
   waits QUEUED (with its queue position) while the first runs; each logs a data set;
2. ``train`` reads ``train-data:latest`` (an alias, resolved to an exact version at submit)
   and logs a ``model``;
3. ``evaluate`` reads ``model:latest`` and ``test-data:latest`` and logs ``metrics``.

The demo then prints each job's path through the states, its timings, a log excerpt, and
the lineage of every artifact: which job produced it and which jobs read it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from jobrelay.artifacts.base import earlier_producer
from jobrelay.artifacts.digests import short_digest
from jobrelay.cli import render
from jobrelay.client import AsyncClient
from jobrelay.models import ArtifactRef, JobRef, JobResult, JobSpec, JobState

DEMO_QUEUE = "demo"

# Each job writes into runtime.outputs_dir() (a folder wherever the job runs), then records
# the output.
PREPARE = """
import json, sys, time
from jobrelay import runtime
split, n = sys.argv[1], int(sys.argv[2])
rows = [{"x": i, "y": 2 * i + 1} for i in range(n)]
for i in range(3):
    print(f"{split}: cleaning batch {i + 1}/3", flush=True)
    time.sleep(0.3)
path = runtime.outputs_dir() / f"{split}.json"
path.write_text(json.dumps(rows))
runtime.log_output(f"{split}-data", path, metadata={"rows": n})
print(f"{split}: wrote {n} rows")
"""

TRAIN = """
import json, time
from jobrelay import runtime
rows = json.loads(runtime.input_path("data").read_text())
n = len(rows)
mx = sum(r["x"] for r in rows) / n
my = sum(r["y"] for r in rows) / n
slope = sum((r["x"] - mx) * (r["y"] - my) for r in rows) / sum((r["x"] - mx) ** 2 for r in rows)
for epoch in range(1, 4):
    print(f"epoch {epoch}: fitting {n} rows", flush=True)
    time.sleep(0.3)
model = {"slope": slope, "intercept": my - slope * mx}
path = runtime.outputs_dir() / "model.json"
path.write_text(json.dumps(model))
runtime.log_output("model", path, aliases=["candidate"])
print(f"model: y = {model['slope']:.2f}x + {model['intercept']:.2f}")
"""

EVALUATE = """
import json
from jobrelay import runtime
model = json.loads(runtime.input_path("model").read_text())
rows = json.loads(runtime.input_path("data").read_text())
err = sum(abs(model["slope"] * r["x"] + model["intercept"] - r["y"]) for r in rows) / len(rows)
path = runtime.outputs_dir() / "metrics.json"
path.write_text(json.dumps({"mean_abs_error": err, "rows": len(rows)}))
runtime.log_output("metrics", path)
print(f"evaluated on {len(rows)} held-out rows: mean abs error {err:.4f}")
"""


def _job(name: str, script: str, *args: str, **fields: object) -> JobSpec:
    entrypoint = [sys.executable, "-c", script, *args]
    return JobSpec(name=name, entrypoint=entrypoint, queue=DEMO_QUEUE, tags={"demo": "1"}, **fields)


def demo_stages() -> list[list[JobSpec]]:
    return [
        [
            _job("prepare-train", PREPARE, "train", "200"),
            _job("prepare-test", PREPARE, "test", "50"),
        ],
        [_job("train", TRAIN, inputs={"data": "train-data:latest"})],
        [_job("evaluate", EVALUATE, inputs={"model": "model:latest", "data": "test-data:latest"})],
    ]


def demo_summary() -> str:
    """What ``jobrelay demo`` runs, counted from :func:`demo_stages` (its ``--help``)."""
    stages = demo_stages()
    jobs = sum(len(stage) for stage in stages)
    names = ", ".join(spec.display_name for stage in stages for spec in stage)
    return (
        f"Run a {jobs}-job pipeline ({names}) in {len(stages)} stages on the local platform, "
        f"through a queue of concurrency 1, and show each job's states, logs and the "
        "lineage of the artifacts they pass on."
    )


def demo_platform_url(home: Path | None) -> str:
    return f"local://{home.expanduser().resolve()}" if home else "local://"


async def run_demo(home: Path | None = None) -> bool:
    """Run the pipeline; True when every job succeeded."""
    async with AsyncClient(demo_platform_url(home)) as client:
        platform = await client.platform()
        render.console.print(Text.assemble(("jobrelay demo", "bold"), f" on {platform.url}"))
        await client.create_queue(DEMO_QUEUE, max_concurrency=1, mode="FIFO")
        render.console.print(
            Text.assemble("queue ", (DEMO_QUEUE, "bold"), ": max_concurrency=1, FIFO")
        )
        lines: list[render.JobLine] = []
        results: list[JobResult] = []
        stages = demo_stages()
        for number, stage in enumerate(stages, start=1):
            render.console.print(Text(f"\nstage {number}", style="bold"))
            stage_lines, stage_results = await _run_stage(client, stage)
            lines += stage_lines
            results += stage_results
            if not all(result.state.is_success for result in stage_results):
                break
        await _summary(client, lines, results)
        return len(results) == sum(map(len, stages)) and all(
            result.state.is_success for result in results
        )


async def _run_stage(
    client: AsyncClient, specs: list[JobSpec]
) -> tuple[list[render.JobLine], list[JobResult]]:
    refs = [await client.submit(spec) for spec in specs]
    lines = [
        render.JobLine(name=spec.display_name, ref=ref)
        for spec, ref in zip(specs, refs, strict=True)
    ]
    for spec, line in zip(specs, lines, strict=True):
        reads = ", ".join(f"{k}={v}" for k, v in spec.inputs.items())
        render.console.print(
            Text.assemble(
                f"{line.name}: submitted as {line.ref.id}, ",
                render.state_text(JobState.QUEUED),
                f"  (reads {reads})" if reads else "",
            )
        )
    with render.LiveJobs(lines, show_logs=False) as live:
        results = await asyncio.gather(
            *(client.wait(ref, on_update=live.update, raise_on_failure=False) for ref in refs)
        )
    return lines, list(results)


async def _summary(
    client: AsyncClient, lines: list[render.JobLine], results: list[JobResult]
) -> None:
    table = Table(title="pipeline", header_style="bold", title_justify="left")
    for column in ("job", "states seen", "queued", "ran", "exit", "outputs"):
        table.add_column(column)
    for line, result in zip(lines, results, strict=True):
        s = result.status
        table.add_row(
            line.name,
            " → ".join(state.value for state in line.history),
            f"{s.queued_s:.2f}s" if s.queued_s is not None else "-",
            f"{s.run_s:.2f}s" if s.run_s is not None else "-",
            "-" if s.exit_code is None else str(s.exit_code),
            ", ".join(ref.qualified_name for ref in result.outputs.values()) or "-",
        )
    render.console.print()
    render.console.print(table)
    for line, result in zip(lines, results, strict=True):
        tail = await client.tail_logs(result.ref, n=2)
        render.console.print(Text.assemble((line.name, "bold"), " log, last lines:"))
        for log_line in tail:
            render.print_log_line(log_line, prefix="  ")
    await _lineage(client, lines, results)


async def _lineage(
    client: AsyncClient, lines: list[render.JobLine], results: list[JobResult]
) -> None:
    names = {line.ref.id: line.name for line in lines}
    store = await client.artifact_store()
    outputs = [(r.ref, ref) for r in results for ref in r.outputs.values()]
    # The home (and its store) is shared by every run: a rerun's identical outputs are the
    # versions an earlier run stored, and the table says so rather than name that run's
    # jobs as if they had run now.
    table = Table(
        title="artifact lineage",
        header_style="bold",
        title_justify="left",
        caption=f"store {store.url}: shared by every run in this jobrelay home "
        "($JOBRELAY_HOME); identical bytes are one version",
        caption_justify="left",
    )
    for column in ("artifact", "digest", "produced by", "read by"):
        # Names and digests whole; job names and ids wrap when the terminal is narrow.
        table.add_column(column, no_wrap=column in ("artifact", "digest"))
    for made_by, ref in outputs:
        lineage = await store.lineage(ref)
        table.add_row(
            ref.qualified_name,
            short_digest(ref.digest),
            _produced_by(made_by, ref, names),
            _read_by(lineage.consumers, names),
        )
    render.console.print()
    render.console.print(table)


def _produced_by(job: JobRef, output: ArtifactRef, names: dict[str, str]) -> str:
    made = f"{names.get(job.id, job.id)} ({job.id})"
    earlier = earlier_producer(output, job)
    return made if earlier is None else f"{made}: same bytes as {earlier.id} (an earlier run)"


def _read_by(consumers: list[JobRef], names: dict[str, str]) -> str:
    now = [f"{names[c.id]} ({c.id})" for c in consumers if c.id in names]
    earlier = sum(c.id not in names for c in consumers)
    if earlier:
        now.append(f"+{earlier} job(s) of earlier runs")
    return ", ".join(now) or "-"
