"""Seconds between two moments of a job, when both are known (standard library only: the
CLI's fast path and ``JobStatus`` share it)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["JobSpans", "seconds_between"]


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """``end - start`` in seconds, None when either is unknown."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


class _Moments(Protocol):
    @property
    def submitted_at(self) -> datetime | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


class JobSpans:
    """``queued_s`` and ``run_s`` for a class with ``submitted_at``, ``started_at`` and
    ``ended_at`` (``JobStatus``, the local platform's ``RowView``): a mixin with no state."""

    __slots__ = ()

    @property
    def queued_s(self: _Moments) -> float | None:
        """Seconds between submission and start, when both are known."""
        return seconds_between(self.submitted_at, self.started_at)

    @property
    def run_s(self: _Moments) -> float | None:
        """Seconds between start and end, when both are known."""
        return seconds_between(self.started_at, self.ended_at)
