"""Exit codes and the one place errors become a single line on stderr."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from jobrelay.errors import (
    ArtifactError,
    ConfigError,
    JobCancelled,
    JobFailed,
    JobRelayError,
    JobTimeout,
    PlatformError,
)

SUCCEEDED, FAILED, USAGE, TIMEOUT, UNREACHABLE, INTERRUPTED = 0, 1, 2, 3, 4, 130

T = TypeVar("T")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def exit_code_for(exc: JobRelayError) -> int:
    if isinstance(exc, JobTimeout):
        return TIMEOUT
    if isinstance(exc, (JobFailed, JobCancelled)):
        return FAILED
    if isinstance(exc, (ConfigError, ArtifactError)):
        return USAGE
    if isinstance(exc, PlatformError):
        return UNREACHABLE
    return FAILED


def fail(exc: JobRelayError) -> NoReturn:
    """Print the error as one line (plus a failed job's log tail) and exit with its code."""
    first, _, rest = str(exc).partition("\n")
    err_console.print(f"[bold red]error:[/] {first}", markup=True, highlight=False)
    if rest:
        err_console.print(rest, markup=False)
    raise typer.Exit(exit_code_for(exc))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; typed errors become exit codes, never tracebacks."""
    try:
        return asyncio.run(coro)
    except JobRelayError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
