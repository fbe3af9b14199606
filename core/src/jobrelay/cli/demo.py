"""``jobrelay demo``: a small pipeline on the embedded local platform.

Three jobs go into a queue of concurrency 1, so the later ones visibly wait QUEUED (with
their queue position) while the first runs; the demo then prints each job's path through
the states, its timings and an excerpt of its log.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from jobrelay.cli import render
from jobrelay.client import AsyncClient
from jobrelay.models import JobResult, JobSpec, JobState

DEMO_QUEUE = "demo"

PREPARE = """
import time
rows = []
for i in range(4):
    rows.append(i * i)
    print(f"prepared batch {i + 1}/4", flush=True)
    time.sleep(0.3)
print(f"prepared {len(rows)} rows, checksum {sum(rows)}")
"""

TRAIN = """
import time
loss = 1.0
for epoch in range(1, 5):
    loss *= 0.55
    print(f"epoch {epoch}: loss={loss:.4f}", flush=True)
    time.sleep(0.3)
print(f"final loss {loss:.4f}")
"""

REPORT = """
import platform, time
time.sleep(0.2)
print(f"report written on {platform.node() or 'this machine'}")
print("pipeline complete")
"""


def demo_specs() -> list[JobSpec]:
    python = sys.executable
    return [
        JobSpec(name=name, entrypoint=[python, "-c", script], queue=DEMO_QUEUE, tags={"demo": "1"})
        for name, script in (("prepare", PREPARE), ("train", TRAIN), ("report", REPORT))
    ]


def demo_platform_url(home: Path | None) -> str:
    return f"local://{home.expanduser().resolve()}" if home else "local://"


async def run_demo(home: Path | None = None) -> bool:
    """Run the pipeline; True when every job succeeded."""
    url = demo_platform_url(home)
    async with AsyncClient(url) as client:
        platform = await client.platform()
        render.console.print(f"[bold]jobrelay demo[/] on {platform.url}")
        await client.create_queue(DEMO_QUEUE, max_concurrency=1, mode="FIFO")
        render.console.print(f"queue [bold]{DEMO_QUEUE}[/]: max_concurrency=1, FIFO\n")
        specs = demo_specs()
        refs = [await client.submit(spec) for spec in specs]
        lines = [render.JobLine(name=spec.display_name, ref=ref) for spec, ref in zip(specs, refs, strict=True)]
        for line in lines:
            render.console.print(
                Text.assemble(
                    f"{line.name}: submitted as {line.ref.id}, ", render.state_text(JobState.QUEUED)
                )
            )
        with render.LiveJobs(lines, show_logs=False) as live:
            results = await asyncio.gather(
                *(client.wait(ref, on_update=live.update, raise_on_failure=False) for ref in refs)
            )
        await _summary(client, lines, results)
        return all(result.state.is_success for result in results)


async def _summary(
    client: AsyncClient, lines: list[render.JobLine], results: list[JobResult]
) -> None:
    table = Table(title="pipeline", header_style="bold", title_justify="left")
    for column in ("job", "states seen", "queued", "ran", "exit"):
        table.add_column(column)
    for line, result in zip(lines, results, strict=True):
        s = result.status
        table.add_row(
            line.name,
            " → ".join(state.value for state in line.history),
            f"{s.queued_s:.2f}s" if s.queued_s is not None else "-",
            f"{s.run_s:.2f}s" if s.run_s is not None else "-",
            "-" if s.exit_code is None else str(s.exit_code),
        )
    render.console.print()
    render.console.print(table)
    for line, result in zip(lines, results, strict=True):
        tail = await client.tail_logs(result.ref, n=3)
        render.console.print(f"\n[bold]{line.name}[/] log (last {len(tail)} lines):")
        for log_line in tail:
            render.print_log_line(log_line, prefix="  ")
