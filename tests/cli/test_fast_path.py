"""The CLI's fast path (``jobrelay ls`` / ``status`` / ``logs`` on local without typer,
pydantic or rich) prints what the full command prints -- the same text when the table fits
the console, the same cells when it folds it -- and imports only what it uses."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay import Client, JobFailed, JobSpec, JobState
from jobrelay import _procs as procs
from jobrelay._owners import Owner
from jobrelay.cli import fast_status, fast_table
from jobrelay.cli.tables import STATUS_COLUMNS, plain_table, rich_status_table
from jobrelay.platforms.local import store
from rich.console import Console

from tests.platforms.conftest import kill_local_agents

pytestmark = pytest.mark.timeout(120)


def run_cli(
    home: Path, *args: str, fast: bool = True, columns: str | None = None, importtime: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOBRELAY_PLATFORM": f"local://{home}"}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    if not fast:
        env["JOBRELAY_CLI_FAST"] = "0"
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "jobrelay", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def imported(stderr: str) -> set[str]:
    """Top-level package names a ``-X importtime`` run imported."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


_MAKE_OUTPUTS = [
    sys.executable,
    "-c",
    "from jobrelay import runtime\n"
    "for name in ('model', 'b-metrics'):\n"
    "    path = runtime.outputs_dir() / name\n"
    "    path.write_text(name)\n"
    "    runtime.log_output(name, path)\n",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """Jobs in every state the table shows: succeeded with output, failed with a message,
    running, queued behind it (a position), one with an owner, on two queues."""
    home = tmp_path_factory.mktemp("fast") / "home"
    owner = str(Owner("airflow", "inst", ("dag", "run", "task", "-1", "1")))
    ids: dict[str, str] = {}
    with Client(f"local://{home}") as client:
        client.create_queue("one", max_concurrency=1)
        ids["ok"] = client.run(
            JobSpec(entrypoint="printf 'tab\\there\\n'; echo 'ünïcode [red]x[/]'; echo err >&2")
        ).ref.id
        failed = client.submit(JobSpec(entrypoint="exit 3", owner=owner))
        with pytest.raises(JobFailed):
            client.wait(failed, timeout=30)
        ids["failed"] = failed.id
        ids["running"] = client.submit(JobSpec(entrypoint="sleep 900", queue="one")).id
        client.wait(
            client.submit(JobSpec(entrypoint="true")), timeout=30
        )  # the agent has claimed the sleeper's queue by now
        ids["queued"] = client.submit(JobSpec(entrypoint="true", queue="one")).id
        ids["queued2"] = client.submit(JobSpec(entrypoint="true", queue="one", name="n")).id
        ids["outputs"] = client.run(JobSpec(entrypoint=_MAKE_OUTPUTS)).ref.id  # collected
        uncollected = client.submit(JobSpec(entrypoint=_MAKE_OUTPUTS))
        deadline = time.monotonic() + 30
        while not client.status(uncollected).state.is_terminal:  # no wait: nothing collects
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ids["uncollected"] = uncollected.id
    yield home, ids
    kill_local_agents(home)


@pytest.mark.slow  # two CLI processes per case (about 1-3 s each on 2 busy cores)
@pytest.mark.parametrize(
    ("args", "columns"),
    [
        (("ls",), "250"),  # wide enough: the same text (folded at 80: the test below)
        (("ls", "--limit", "2"), "250"),
        (("ls", "-q", "one"), "250"),
        (("ls", "--queue=one", "--limit=1"), "250"),
        (("ls", "--owner", "airflow:"), "250"),
        (("ls", "--limit", "0"), "250"),  # an error: the full command says it
        (("ls", "-p", "local:// "), "250"),  # refused by the full command
        (("ls", "--json"), "250"),
    ],
)
def test_ls_prints_what_the_full_command_prints(
    home: tuple[Path, dict[str, str]], args: tuple[str, ...], columns: str | None
) -> None:
    path, _ = home
    fast = run_cli(path, *args, columns=columns)
    full = run_cli(path, *args, columns=columns, fast=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )


def table_cells(text: str) -> list[list[str]]:
    """An ``ls`` table's rows as cells (the header first), a wrapped cell joined again with
    its whitespace left out (folding moves it); ids never wrap, so an id starts a row."""
    lines = text.splitlines()
    starts = [m.start() - 1 for m in re.finditer(r"\S+", lines[0])]
    ends = [*starts[1:], max(map(len, lines))]
    rows: list[list[str]] = []
    for line in lines:
        parts = ["".join(line[a:b].split()) for a, b in zip(starts, ends, strict=True)]
        if parts[0] or not rows:
            rows.append(parts)
        else:
            rows[-1] = [a + b for a, b in zip(rows[-1], parts, strict=True)]
    return rows


def detail_cells(text: str) -> list[tuple[str, str]]:
    """A ``status`` detail's (key, value) rows, a wrapped value joined again without its
    whitespace; the value column starts where the job id does."""
    lines = text.splitlines()
    start = lines[0].index("j-")
    rows: list[tuple[str, str]] = []
    for line in lines:
        key, value = line[:start].strip(), "".join(line[start:].split())
        if key:
            rows.append((key, value))
        else:
            rows[-1] = (rows[-1][0], rows[-1][1] + value)
    return rows


STATES = {state.value for state in JobState}


@pytest.mark.slow
def test_ls_folded_at_80_columns_shows_every_cell_and_never_splits_a_state(
    home: tuple[Path, dict[str, str]],
) -> None:
    path, ids = home
    fast = run_cli(path, "ls", columns="80")
    wide = run_cli(path, "ls", columns="250", fast=False)  # the full command, unfolded
    assert (fast.returncode, fast.stderr) == (0, "")
    lines = fast.stdout.splitlines()
    assert len(lines) > len(ids) + 1  # it did fold
    assert max(map(len, lines)) <= 80
    assert table_cells(fast.stdout) == table_cells(wide.stdout)
    state_at = lines[0].index("state") - 1
    for line in lines:
        if line.startswith(" j-"):  # a job's first line holds its whole state
            assert line[state_at:].split()[0] in STATES, line


@pytest.mark.slow
@pytest.mark.parametrize(
    "which", ["ok", "failed", "running", "queued", "outputs", "uncollected", "nope"]
)
def test_status_prints_what_the_full_command_prints(
    home: tuple[Path, dict[str, str]], which: str
) -> None:
    path, ids = home
    job_id = ids.get(which, "j-000000000000")
    fast = run_cli(path, "status", job_id, columns="250", importtime=True)
    full = run_cli(path, "status", job_id, columns="250", fast=False)
    fast_errors = [x for x in fast.stderr.splitlines() if not x.startswith("import time:")]
    assert (fast.returncode, fast.stdout, fast_errors) == (
        full.returncode,
        full.stdout,
        full.stderr.splitlines(),
    )
    # Outputs still to collect (the full command stores them) and an unknown job (its
    # error and exit code) take the full command; everything else is read with the stdlib.
    took_fast = not imported(fast.stderr) & {"pydantic", "typer", "rich", "httpx"}
    assert took_fast == (which not in ("uncollected", "nope")), which
    if which in ("outputs", "uncollected"):
        shown = dict(detail_cells(fast.stdout))
        assert shown["output model"].startswith("model:")
        assert shown["output b-metrics"].startswith("b-metrics:")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["outputs", "failed"])
def test_status_folded_at_80_columns_shows_every_value(
    home: tuple[Path, dict[str, str]], which: str
) -> None:
    # At 80 columns rich cuts the log's long file:// URL with an ellipsis; the fast path
    # wraps it, so every value is there to read (compared with a wide full command).
    path, ids = home
    fast = run_cli(path, "status", ids[which], columns="80")
    wide = run_cli(path, "status", ids[which], columns="250", fast=False)
    assert fast.returncode == wide.returncode == 0
    assert max(map(len, fast.stdout.splitlines())) <= 80
    assert detail_cells(fast.stdout) == detail_cells(wide.stdout)


def run_on_terminal(home: Path, *args: str, **env: str) -> str:
    """What the fast path writes to a terminal (a pseudo-terminal of 250 columns)."""
    leader, follower = pty.openpty()
    full_env = {**os.environ, "JOBRELAY_PLATFORM": f"local://{home}", "COLUMNS": "250"}
    full_env.update({"TERM": "xterm-256color", **env})
    for name in ("NO_COLOR", "FORCE_COLOR"):
        if name not in env:
            full_env.pop(name, None)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobrelay", *args],
            env=full_env,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ls", "status"])
def test_on_a_terminal_states_are_coloured_unless_no_color(
    home: tuple[Path, dict[str, str]], command: str
) -> None:
    path, ids = home
    args = ("ls",) if command == "ls" else ("status", ids["failed"])
    plain = run_cli(path, *args, columns="250").stdout
    coloured = run_on_terminal(path, *args)
    assert "\x1b[31mFAILED\x1b[0m" in coloured  # red, as rich shows it
    assert "\x1b[1m" in coloured  # the header (ls) or the keys (status) bold
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    no_color = run_on_terminal(path, *args, NO_COLOR="1")
    assert "\x1b[31m" not in no_color
    assert "\x1b[1m" in no_color
    assert "\x1b[" not in run_on_terminal(path, *args, TERM="dumb")


def test_the_fast_path_tells_a_live_agent_as_the_store_does() -> None:
    assert fast_status.AGENT_STALE_AFTER_S == store.AGENT_STALE_AFTER_S
    zombie = subprocess.Popen(["true"])
    ended = subprocess.Popen(["true"])
    ended.wait()
    deadline = time.monotonic() + 10
    while procs.pid_alive(zombie.pid):  # exited, not reaped yet
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        # One pid_alive for both (jobrelay._procs, whose ctypes loads only when used).
        assert fast_status.pid_alive is procs.pid_alive
        assert fast_status.pid_alive(os.getpid())
        assert not fast_status.pid_alive(zombie.pid)  # a zombie is not alive
        assert not fast_status.pid_alive(ended.pid)
        assert not fast_status.pid_alive(0)
    finally:
        zombie.wait()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ok", "failed", "queued", "nope"])
def test_logs_prints_what_the_full_command_prints(
    home: tuple[Path, dict[str, str]], which: str
) -> None:
    path, ids = home
    job_id = ids.get(which, "j-000000000000")
    fast = run_cli(path, "logs", job_id)
    full = run_cli(path, "logs", job_id, fast=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )
    if which == "ok":
        assert fast.stdout == "tab\there\nünïcode [red]x[/]\nerr\n"


@pytest.mark.slow
def test_the_fast_path_imports_neither_typer_nor_pydantic_nor_httpx_nor_rich(
    home: tuple[Path, dict[str, str]],
) -> None:
    path, ids = home
    for args, columns in (
        (("ls",), "250"),
        (("ls",), "80"),  # folded
        (("status", ids["outputs"]), "80"),
        (("logs", ids["ok"]), None),
    ):
        done = run_cli(path, *args, columns=columns, importtime=True)
        assert done.returncode == 0, done.stderr
        heavy = {"typer", "click", "pydantic", "httpx", "fsspec", "anyio", "rich"}
        assert not imported(done.stderr) & heavy, args


def test_import_jobrelay_leaves_httpx_out() -> None:
    code = (
        "import sys, jobrelay, jobrelay.cli, jobrelay.platforms, jobrelay.platforms.local;"
        "jobrelay.JobSpec; jobrelay.JobState;"
        "print(sorted(m for m in ('httpx', 'typer', 'rich', 'fsspec') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_client_and_the_local_platform_open_without_httpx(tmp_path: Path) -> None:
    # httpx (and the click, rich and pygments its own CLI module imports) loads only when
    # a hosted platform builds its HTTP sessions.
    code = (
        "import asyncio, sys\n"
        "from jobrelay import AsyncClient\n"
        "async def main():\n"
        f"    async with AsyncClient('local://{tmp_path}/home?autostart=0') as client:\n"
        "        await client.list_jobs()\n"
        "asyncio.run(main())\n"
        "print('httpx' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


cell = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=24)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.lists(cell, min_size=len(STATUS_COLUMNS), max_size=len(STATUS_COLUMNS)), max_size=5
    ),
    width=st.integers(20, 250),
)
def test_the_plain_table_is_rich_s_text_whenever_it_answers(
    rows: list[list[str]], width: int
) -> None:
    mine = plain_table(rows, width)
    out = io.StringIO()
    Console(file=out, width=width, highlight=False).print(rich_status_table(rows))
    if mine is not None:
        assert mine == out.getvalue()
    else:  # it steps aside only when rich must fold (or a cell is not plain ASCII)
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(STATUS_COLUMNS)]
        assert sum(widths) + 2 * len(widths) > width


job_id = st.text(alphabet="0123456789abcdef", min_size=4, max_size=12).map(lambda x: "j-" + x)
words = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=70)
FREE_TEXT = ("name", "queue", "owner", "message")
FREE = [column in FREE_TEXT for column in STATUS_COLUMNS]


@st.composite
def job_rows(draw: st.DrawFn) -> list[list[str]]:
    def cell_of(column: str, job: str) -> str:
        if column == "id":
            return job
        if column == "state":
            return draw(st.sampled_from(sorted(STATES)))
        return draw(words if column in FREE_TEXT else cell)

    ids = draw(st.lists(job_id, max_size=6, unique=True))
    return [[cell_of(column, job) for column in STATUS_COLUMNS] for job in ids]


@settings(max_examples=60, deadline=None)
@given(rows=job_rows(), width=st.integers(20, 250))
def test_the_fast_table_is_rich_s_text_when_it_fits_and_keeps_every_cell_when_it_folds(
    rows: list[list[str]], width: int
) -> None:
    mine = fast_table.draw(rows, fast_table.Console(width), header=STATUS_COLUMNS, flexible=FREE)
    assert mine is not None
    out = io.StringIO()
    Console(file=out, width=width, highlight=False).print(rich_status_table(rows))
    lines = mine.splitlines()
    natural = sum(
        max([len(h), *(len(r[i]) for r in rows)]) + 2 for i, h in enumerate(STATUS_COLUMNS)
    )
    if natural <= width:  # it fits: rich's very text
        assert mine == out.getvalue()
    fixed = sum(
        max([len(h), *(len(r[i]) for r in rows)]) + 2
        for i, h in enumerate(STATUS_COLUMNS)
        if not FREE[i]
    )
    if fixed + 6 * sum(FREE) <= width:  # room for the fixed columns: no line runs over
        assert max(map(len, lines)) <= width
    assert table_cells(mine) == [
        ["".join(c.split()) for c in row] for row in [list(STATUS_COLUMNS), *rows]
    ]
    state_at = lines[0].index("state") - 1
    for line in lines[1:]:
        if line.startswith(" j-"):
            assert line[state_at:].split()[0] in STATES
