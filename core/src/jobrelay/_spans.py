"""Seconds between two moments of a job, when both are known (standard library only: the
CLI's fast path and ``JobStatus`` share it)."""

from __future__ import annotations

from datetime import datetime

__all__ = ["seconds_between"]


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """``end - start`` in seconds, None when either is unknown."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
