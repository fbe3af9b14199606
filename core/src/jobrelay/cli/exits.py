"""Exit codes and the one place errors become a single line on stderr."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from jobrelay.errors import (
    ArtifactError,
    ConfigError,
    JobCancelled,
    JobFailed,
    JobRelayError,
    JobTimeout,
    NotFoundError,
    PlatformError,
)

SUCCEEDED, FAILED, USAGE, TIMEOUT, UNREACHABLE, NOT_FOUND, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
# What each exit code means, as ``jobrelay --help`` and the README say it (a test holds the
# README to this).
EXIT_CODES: dict[int, str] = {
    SUCCEEDED: "succeeded",
    FAILED: "failed or cancelled",
    USAGE: "usage or configuration error",
    TIMEOUT: "timeout",
    UNREACHABLE: "platform unreachable or refusing",
    NOT_FOUND: "no such job (or queue) on the platform",
    INTERRUPTED: "interrupted with --detach (the job keeps running)",
}


def exit_codes_text() -> str:
    """``"Exit codes: 0 succeeded, 1 failed or cancelled, ..."``, from ``EXIT_CODES``."""
    return "Exit codes: " + ", ".join(f"{code} {what}" for code, what in EXIT_CODES.items())


T = TypeVar("T")

# markup=False: an error's text (a queue name, an install hint with '[emulators]') is
# printed as written; styling is given explicitly with Text.
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


def exit_code_for(exc: JobRelayError) -> int:
    if isinstance(exc, JobTimeout):
        return TIMEOUT
    if isinstance(exc, (JobFailed, JobCancelled)):
        return FAILED
    if isinstance(exc, (ConfigError, ArtifactError)):
        return USAGE
    if isinstance(exc, NotFoundError):
        return NOT_FOUND  # the platform answered: the job (or queue) is not there
    if isinstance(exc, PlatformError):
        return UNREACHABLE
    return FAILED


def fail(exc: JobRelayError) -> NoReturn:
    """Print the error as one line (plus a failed job's log tail) and exit with its code."""
    first, _, rest = str(exc).partition("\n")
    err_console.print(Text.assemble(("error:", "bold red"), " ", first))
    if rest:
        err_console.print(rest, markup=False)
    raise typer.Exit(exit_code_for(exc))


class _FirstRetryLine(logging.Handler):
    """Shows that the platform is being retried, once per command, in one short line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.shown = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.shown:
            self.shown = True
            err_console.print(Text("platform busy or unreachable; retrying…", style="dim"))


@contextlib.contextmanager
def _retry_line() -> Iterator[None]:
    logger = logging.getLogger("jobrelay.http")
    handler = _FirstRetryLine()
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; typed errors become exit codes, never tracebacks."""
    try:
        with _retry_line():
            return asyncio.run(coro)
    except JobRelayError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
