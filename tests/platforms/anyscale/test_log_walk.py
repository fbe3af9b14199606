"""The log walk that moved out of the Anyscale platform class into ``log_walk.LogWalk``
(issue 29), driven over generated runs, paged chunk listings and chunks answered in memory:
read after read, while the job writes and after it ends, every line comes once, in order,
whatever the page size, the download limit or where a read stops. The platform's use of it
against the emulator is in ``test_platform.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay.platforms.anyscale import log_walk, payloads

PROPERTIES = settings(max_examples=60, deadline=None)

line_text = st.text(st.characters(blacklist_characters="\n\r", codec="utf-8"), max_size=8)
# A chunk's final text: lines, each ended by a newline except perhaps the last.
chunk = st.builds(
    lambda lines, ended: "\n".join(lines) + ("\n" if ended and lines else ""),
    st.lists(line_text, max_size=5),
    st.booleans(),
)
job = st.lists(st.lists(chunk, min_size=0, max_size=5), min_size=1, max_size=3)  # runs


def lines_of(text: str) -> list[str]:
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts


@dataclass
class Job:
    """A job's runs as the API shows them at one moment: ``runs[i]`` are run i's chunk
    texts; only the newest run's last chunk may still grow."""

    runs: list[list[str]]
    terminal: bool
    page_size: int

    def run_objects(self) -> list[dict[str, Any]]:
        last = len(self.runs) - 1
        return [
            {"id": f"run{i}", "status": "FAILED" if i < last or self.terminal else "RUNNING"}
            for i in range(len(self.runs))
        ]

    def listing(self, run_id: str, page: str | None) -> dict[str, Any]:
        chunks = self.runs[int(run_id.removeprefix("run"))]
        start = int(page or 0)
        end = start + self.page_size
        return {
            "log_chunks": [
                {"chunk_url": f"{run_id}/{i}"} for i in range(start, min(end, len(chunks)))
            ],
            "bearer_token": "chunk-token",
            "next_page_token": str(end) if end < len(chunks) else None,
        }

    def text(self, url: str) -> str:
        run, index = url.split("/")
        return self.runs[int(run.removeprefix("run"))][int(index)]


def read(job: Job, cursor: str | None, limit: int) -> tuple[list[str], str, bool]:
    """One log read, as the platform makes it (the cursor goes through its text form)."""
    walk = log_walk.LogWalk(
        job.run_objects(), payloads.read_log_cursor(cursor), terminal=job.terminal, limit=limit
    )
    while (step := walk.next()) is not None:
        if isinstance(step, log_walk.ChunkListing):
            walk.listed(job.listing(step.run_id, step.page))
        else:
            assert step.bearer == "chunk-token"
            walk.downloaded(job.text(step.url))
    return [line.text for line in walk.lines], payloads.write_log_cursor(walk.cursor), walk.done


def moment(runs: list[list[str]], upto: int) -> list[list[str]]:
    """The job after it wrote ``upto`` characters of its whole output, run by run and chunk
    by chunk (an earlier run is complete; a chunk is listed once it has begun)."""
    shown: list[list[str]] = []
    left = upto
    for run in runs:
        shown.append([])
        for text in run:
            if left <= 0 and shown[-1]:
                return shown
            shown[-1].append(text[: max(left, 0)])
            left -= len(text)
        if left <= 0:
            return shown
    return shown


@PROPERTIES
@given(
    runs=job,
    cuts=st.lists(st.integers(0, 200), max_size=6).map(sorted),
    page_size=st.integers(1, 4),
    limit=st.integers(1, 5),
)
def test_every_line_comes_once_in_order_read_after_read(
    runs: list[list[str]], cuts: list[int], page_size: int, limit: int
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    for cut in cuts:  # reads while the job writes
        lines, cursor, done = read(Job(moment(runs, cut), False, page_size), cursor, limit)
        assert not done
        seen.extend(lines)
    ended = Job(runs, True, page_size)
    for _ in range(200):  # then reads after it ended, until one says done
        lines, cursor, done = read(ended, cursor, limit)
        seen.extend(lines)
        if done:
            break
    assert done
    assert seen == [line for run in runs for text in run for line in lines_of(text)]


@PROPERTIES
@given(runs=job, page_size=st.integers(1, 4))
def test_a_read_of_an_ended_job_is_done_in_one_go_within_the_limit(
    runs: list[list[str]], page_size: int
) -> None:
    lines, _, done = read(Job(runs, True, page_size), None, log_walk.CHUNKS_PER_READ)
    assert done
    assert lines == [line for run in runs for text in run for line in lines_of(text)]


def test_an_unfinished_last_line_waits_until_its_run_ends() -> None:
    writing = Job([["one\ntw"]], terminal=False, page_size=10)
    lines, cursor, done = read(writing, None, 10)
    assert (lines, done) == (["one"], False)
    lines, cursor, done = read(Job([["one\ntwo\n"]], True, 10), cursor, 10)
    assert (lines, done) == (["two"], True)


def test_downloaded_without_a_listing_is_a_misuse() -> None:
    walk = log_walk.LogWalk([{"id": "run0"}], payloads.LogCursor(), terminal=True)
    with pytest.raises(RuntimeError):
        walk.downloaded("text")
