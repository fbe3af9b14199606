"""The CLI's fast path (``jobrelay ls`` / ``logs`` on local without typer or pydantic) prints
exactly what the full command prints, and imports only what it uses."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay import Client, JobFailed, JobSpec
from jobrelay.cli.tables import plain_table, rich_status_table
from jobrelay.owners import Owner
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
        ids["running"] = client.submit(JobSpec(entrypoint="sleep 60", queue="one")).id
        client.wait(
            client.submit(JobSpec(entrypoint="true")), timeout=30
        )  # the agent has claimed the sleeper's queue by now
        ids["queued"] = client.submit(JobSpec(entrypoint="true", queue="one")).id
        ids["queued2"] = client.submit(JobSpec(entrypoint="true", queue="one", name="n")).id
    yield home, ids
    kill_local_agents(home)


@pytest.mark.slow  # two CLI processes per case (about 1-3 s each on 2 busy cores)
@pytest.mark.parametrize(
    ("args", "columns"),
    [
        (("ls",), "250"),  # wide enough: the plain path
        (("ls",), None),  # 80 columns: rich folds the table
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
def test_the_fast_path_imports_neither_typer_nor_pydantic_nor_httpx(
    home: tuple[Path, dict[str, str]],
) -> None:
    path, ids = home
    for args, columns, allowed_rich in (
        (("ls",), "250", False),
        (("ls",), None, True),  # folded: rich draws it
        (("logs", ids["ok"]), None, False),
    ):
        done = run_cli(path, *args, columns=columns, importtime=True)
        assert done.returncode == 0, done.stderr
        heavy = {"typer", "click", "pydantic", "httpx", "fsspec", "anyio"}
        if not allowed_rich:
            heavy.add("rich")
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
    rows=st.lists(st.lists(cell, min_size=10, max_size=10), max_size=5), width=st.integers(20, 250)
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
        widths = [
            max([len(h), *(len(r[i]) for r in rows)])
            for i, h in enumerate(
                (
                    "id",
                    "state",
                    "queue",
                    "pos",
                    "attempt",
                    "exit",
                    "queued",
                    "ran",
                    "owner",
                    "message",
                )
            )
        ]
        assert sum(widths) + 2 * len(widths) > width
