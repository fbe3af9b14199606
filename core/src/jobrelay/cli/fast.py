"""The CLI's fast path: ``jobrelay ls``, ``jobrelay status JOB`` and ``jobrelay logs JOB``
on the local platform with the standard library alone (no typer, pydantic, httpx or rich),
so they start at once.

It answers only the plain cases it is sure to answer as the full command does (the same
cells, the same exit code; a table that fits the console is the same text, a wider one is
folded by :mod:`.fast_table` rather than by rich): anything else -- another platform, an
option it does not know, ``--json``, ``--follow``, a home with no database yet, a job it
does not find, outputs still to collect -- returns None and the full command runs.
``JOBRELAY_CLI_FAST=0`` turns it off (tests compare the two).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from jobrelay.cli import fast_table

__all__ = ["run_fast"]

_OWNER_SEARCH = 1000  # as ``jobrelay ls --owner`` (cli.app.OWNER_SEARCH)
# The ``ls`` columns of free text, narrowed and wrapped first when the table is too wide.
_FREE_TEXT = frozenset({"name", "queue", "owner", "message"})


def run_fast(argv: Sequence[str]) -> int | None:
    """Run ``argv`` on the fast path and return its exit code, or None to run the full CLI."""
    if os.environ.get("JOBRELAY_CLI_FAST", "1") == "0" or not argv:
        return None
    try:
        if argv[0] == "ls":
            out = _ls(argv[1:])
        elif argv[0] == "logs":
            out = _logs(argv[1:])
        elif argv[0] == "status":
            out = _status(argv[1:])
        else:
            return None
    except (sqlite3.Error, OSError, ValueError, KeyError):
        return None  # the full command reads it again and reports what is wrong
    if out is None:
        return None
    sys.stdout.write(out)
    sys.stdout.flush()
    return 0


def _options(args: Sequence[str], takes_value: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Options (by canonical name) and positional arguments; ValueError for anything else."""
    found: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if arg == "--" or (arg.startswith("-") and arg != "-"):
            canonical = takes_value.get(name)
            if canonical is None or canonical in found or (eq and not name.startswith("--")):
                raise ValueError(arg)  # unknown, repeated, or a form left to click
            if not eq:
                i += 1
                if i >= len(args):
                    raise ValueError(arg)
                value = args[i]
            found[canonical] = value
        else:
            positional.append(arg)
        i += 1
    return found, positional


def _home(platform: str | None) -> Path | None:
    """The local home the platform option names, or None when it is not plain ``local://``."""
    url = platform or os.environ.get("JOBRELAY_PLATFORM") or "local://"
    if "://" not in url or any(c.isspace() or c == "\0" for c in url):
        return None  # the full command refuses it with its own message
    parts = urlsplit(url)
    if parts.scheme != "local" or parts.netloc or parts.query or parts.fragment:
        return None
    if parts.path not in ("", "/"):
        return Path(parts.path).resolve().absolute()
    env = os.environ.get("JOBRELAY_HOME")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_data_dir("jobrelay", appauthor=False)).absolute()


def _connect(home: Path) -> sqlite3.Connection | None:
    """The home's database, opened without creating it; None when it is not there yet or
    not at the schema this version writes (the full command creates or migrates it)."""
    from jobrelay.platforms.local.schema import BUSY_TIMEOUT_MS, DB_FILENAME, SCHEMA_VERSION

    path = home / DB_FILENAME
    if not path.is_file():
        return None
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.row_factory = sqlite3.Row
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        conn.close()
        return None
    return conn


def _ls(args: Sequence[str]) -> str | None:
    from jobrelay.cli import tables
    from jobrelay.platforms.local import rows

    opts, positional = _options(
        args,
        {
            "--platform": "platform",
            "-p": "platform",
            "--limit": "limit",
            "--queue": "queue",
            "-q": "queue",
            "--owner": "owner",
        },
    )
    limit_text = opts.get("limit", "20")
    if positional or not limit_text.isdigit() or int(limit_text) < 1:
        return None
    limit = int(limit_text)
    home = _home(opts.get("platform"))
    conn = None if home is None else _connect(home)
    if conn is None:
        return None
    owner, queue = opts.get("owner"), opts.get("queue")
    if (
        queue is not None
        and not conn.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone()
    ):
        conn.close()
        return None  # the full command says the queue does not exist, with its exit code
    with conn:
        search = limit if owner is None else max(limit, _OWNER_SEARCH)
        ids = rows.recent_ids(conn, search, queue)
        order = {job_id: i for i, job_id in enumerate(ids)}
        found = sorted(rows.status_rows(conn, ids), key=lambda r: order[r["id"]])
    conn.close()
    views = [rows.row_view(row) for row in found]
    if owner is not None:
        views = [v for v in views if (v.owner or "").startswith(owner)][:limit]
    cells = [tables.status_cells(v.id, v.state, v) for v in views]
    header = tables.STATUS_COLUMNS
    return fast_table.draw(
        cells,
        fast_table.console(),
        header=header,
        flexible=[column in _FREE_TEXT for column in header],
        styles=[
            [
                tables.STATE_STYLE.get(cell, "") if column == "state" else ""
                for column, cell in zip(header, row, strict=True)
            ]
            for row in cells
        ],
    )


def _one_job(args: Sequence[str]) -> tuple[Path, sqlite3.Connection, str] | None:
    """For ``status JOB`` and ``logs JOB`` (``--platform``/``-p`` the one option): the
    local home, its database opened and the job id; None when the full command must answer
    (another platform, no database yet, other arguments)."""
    opts, positional = _options(args, {"--platform": "platform", "-p": "platform"})
    if len(positional) != 1:
        return None
    home = _home(opts.get("platform"))
    conn = None if home is None else _connect(home)
    if conn is None or home is None:
        return None
    return home, conn, positional[0]


def _status(args: Sequence[str]) -> str | None:
    from jobrelay.cli.fast_status import status_text

    opened = _one_job(args)
    if opened is None:
        return None
    home, conn, job_id = opened
    try:
        with conn:
            return status_text(conn, home, job_id, fast_table.console())
    finally:
        conn.close()


def _logs(args: Sequence[str]) -> str | None:
    from jobrelay.platforms.local.rows import log_path

    opened = _one_job(args)
    if opened is None:
        return None
    home, conn, job_id = opened
    with conn:
        known = conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone()
    conn.close()
    if known is None:
        return None  # the full command says it is not found, with its exit code
    try:
        data = log_path(home, job_id).read_bytes()
    except FileNotFoundError:
        data = b""
    end = data.rfind(b"\n") + 1  # a record still being written is left out, as a drain does
    out: list[str] = []
    for raw in data[: end - 1].split(b"\n") if end else []:
        text = _record_text(raw)
        if text is None:
            return None
        out.append(text + "\n")
    return "".join(out)


def _record_text(raw: bytes) -> str | None:
    """A record's text when it is a well-formed record; None for anything the full path's
    model decides about (a damaged record, an unusual time)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    when = record.get("t")
    if when is not None:
        if not isinstance(when, str):
            return None
        try:
            datetime.fromisoformat(when)
        except ValueError:
            return None
    return str(record.get("m", ""))
