"""The ``jobrelay`` command line.

Exit codes: 0 succeeded, 1 failed or cancelled, 2 usage or configuration error, 3 timeout,
4 platform unreachable, 130 interrupted with ``--detach`` (the job keeps running).
"""

from __future__ import annotations

from jobrelay.cli.app import app, main

__all__ = ["app", "main"]
