"""Scriptable faults, per operation: error statuses (429 with ``Retry-After``, 5xx), slow
responses, dropped connections, GraphQL errors and corrupted downloads.

An operation is named by the GraphQL operation name (``pushToRunQueueByName``), any root field
the document selects (``project``, ``createArtifact``), ``storage.GET`` / ``storage.PUT`` for
storage, or ``*`` for every request.

>>> faults = Faults()
>>> fault = faults.add("pushToRunQueueByName", status=429, retry_after=1)
>>> faults.take({"pushToRunQueueByName"}) is fault
True
>>> faults.take({"pushToRunQueueByName"}) is None   # it hits once by default
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Fault", "FaultKind", "Faults"]

FaultKind = Literal["status", "slow", "drop", "graphql_error", "corrupt"]


@dataclass
class Fault:
    """One scripted fault; ``times`` is how many matching requests it hits (None: all)."""

    operation: str
    kind: FaultKind = "status"
    status: int = 500
    retry_after: float | None = None
    delay_s: float = 0.0
    message: str = "injected fault"
    times: int | None = 1
    hits: int = 0


@dataclass
class Faults:
    """The emulator's fault script; thread-safe, checked before every request."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        operation: str,
        kind: FaultKind = "status",
        *,
        status: int = 500,
        retry_after: float | None = None,
        delay_s: float = 0.0,
        message: str = "injected fault",
        times: int | None = 1,
    ) -> Fault:
        """Script a fault for the next ``times`` requests of ``operation``."""
        fault = Fault(operation, kind, status, retry_after, delay_s, message, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, operations: Iterable[str]) -> Fault | None:
        """The first live fault matching any of ``operations``, counted as one hit."""
        names = set(operations)
        with self._lock:
            for fault in self._faults:
                if fault.operation != "*" and fault.operation not in names:
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
