"""How the CLI shows jobs: live progress while waiting, tables, status lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from jobrelay.artifacts.digests import short_digest
from jobrelay.cli import tables
from jobrelay.models import JobRef, JobState, JobStatus, LogLine
from jobrelay.waiting import JobUpdate

# markup=False: job names, ids, queue names and messages are the user's or the platform's
# text, printed as written ('[x]', ':smile:' stay); styling is given explicitly with Text.
console = Console(highlight=False, markup=False, emoji=False)

STATE_STYLE = {state: tables.STATE_STYLE[state.value] for state in JobState}


def state_text(state: JobState) -> Text:
    return Text(state.value, style=STATE_STYLE[state])


@dataclass
class JobLine:
    """What the live view knows about one job."""

    name: str
    ref: JobRef
    state: JobState = JobState.QUEUED
    position: int | None = None
    since: float = field(default_factory=time.monotonic)
    history: list[JobState] = field(default_factory=lambda: [JobState.QUEUED])
    status: JobStatus | None = None

    @property
    def phase(self) -> str:
        if self.state.is_waiting:
            return "queue"
        return "run" if self.state is JobState.RUNNING else "done"


class LiveJobs:
    """A live table of jobs: state, phase, queue position, elapsed time; logs print above.

    On a terminal it redraws in place; elsewhere (CI, pipes) it prints one line per change.
    """

    def __init__(
        self, jobs: Sequence[JobLine], *, show_logs: bool = True, out: Console = console
    ) -> None:
        self.jobs = {job.ref.id: job for job in jobs}
        self.started = time.monotonic()
        self.show_logs = show_logs
        self.out = out
        self._live = Live(self, console=out, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveJobs:
        if self.out.is_terminal:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.out.is_terminal:
            self._live.__exit__(None, None, None)

    def update(self, update: JobUpdate) -> None:
        job = self.jobs[update.status.ref.id]
        if update.lines and self.show_logs:
            for line in update.lines:
                prefix = f"{job.name} | " if len(self.jobs) > 1 else ""
                print_log_line(line, prefix=prefix, out=self.out)
        if update.lines:
            return
        state_changed = update.status.state != job.state
        moved = update.status.queue_position != job.position
        job.status = update.status
        job.position = update.status.queue_position
        if state_changed:
            job.state = update.status.state
            job.history.append(job.state)
            job.since = time.monotonic()
        if state_changed or moved:
            position = f" (queue position {job.position})" if job.position else ""
            self.out.print(
                Text.assemble(
                    f"{job.name}: ",
                    state_text(job.state),
                    position,
                    f"  t+{time.monotonic() - self.started:.2f}s",
                )
            )

    def __rich__(self) -> RenderableType:
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for column in ("job", "id", "state", "phase", "queue pos", "in state"):
            table.add_column(column)
        now = time.monotonic()
        for job in self.jobs.values():
            table.add_row(
                job.name,
                job.ref.id,
                state_text(job.state),
                job.phase,
                str(job.position or "-"),
                f"{now - job.since:.1f}s",
            )
        return table


def print_log_line(line: LogLine, prefix: str = "", out: Console = console) -> None:
    style = "red" if line.stream == "stderr" else "dim" if line.stream == "system" else ""
    out.print(Text(prefix + line.text, style=style), soft_wrap=True)


def write_job_line(line: LogLine) -> None:
    """A job's log line exactly as the job wrote it (tabs, CR, BEL ... kept), as
    ``ray job logs`` prints it; rich is for jobrelay's own lines."""
    sys.stdout.write(line.text + "\n")


def status_table(statuses: Sequence[JobStatus]) -> Table:
    """The ``jobrelay ls`` table (the fast path draws the same cells: :mod:`.tables`)."""
    return tables.rich_status_table(
        [tables.status_cells(s.ref.id, s.state.value, s) for s in statuses]
    )


def status_detail(status: JobStatus) -> Table:
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, RenderableType]] = [
        ("job", Text(status.ref.id)),
        ("name", Text(status.name or "-")),
        ("state", state_text(status.state)),
        ("platform state", status.platform_state),
        ("queue", status.queue or "-"),
        ("position", str(status.queue_position or "-")),
        ("attempt", str(status.attempt)),
        ("exit code", "-" if status.exit_code is None else str(status.exit_code)),
        ("submitted", str(status.submitted_at or "-")),
        ("started", str(status.started_at or "-")),
        ("ended", str(status.ended_at or "-")),
        ("owner", Text(status.owner or "-")),
        ("message", Text(status.message or "-")),
    ]
    if status.url:
        rows.append(("url", status.url))
    for name, ref in status.outputs.items():
        rows.append((f"output {name}", f"{ref.qualified_name} {short_digest(ref.digest)}"))
    for key, value in rows:
        table.add_row(key, value)
    return table
