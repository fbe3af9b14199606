"""The ``jobrelay`` command line.

Exit codes: ``jobrelay.cli.exits.EXIT_CODES`` (0 succeeded, 1 failed or cancelled, 2 usage
or configuration error, 3 timeout, 4 platform unreachable, 5 no such job or queue, 130
interrupted with ``--detach``); ``jobrelay --help`` prints them.

``main`` first tries :mod:`.fast` (``ls``, ``status`` and ``logs`` on the local platform,
standard library only), then loads the typer app; ``app`` loads on first use (PEP 562).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobrelay.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """The ``jobrelay`` console script."""
    from jobrelay.cli.fast import run_fast

    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from jobrelay.cli.app import main as full_main

    full_main()


def __getattr__(name: str) -> Any:
    if name == "app":
        from jobrelay.cli.app import app

        return app
    raise AttributeError(f"module 'jobrelay.cli' has no attribute {name!r}")
