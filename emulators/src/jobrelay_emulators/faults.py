"""Fault injection and the request log every emulator shares.

A fault is scripted per *operation* (an emulator's name for one endpoint: ``create``,
``get_job``, or ``*`` for every request) and hits the next ``times`` matching requests:

* ``status``: answer ``status`` (with ``Retry-After`` when given) without handling it;
* ``after``: handle the request, then answer ``status`` (a create that was accepted);
* ``drop``: close the connection without an answer (``after=True``: once handled);
* ``slow``: wait ``delay_s``, then handle it as usual.

>>> faults = Faults()
>>> fault = faults.add("create", status=429, retry_after=1)
>>> faults.take("create") is fault
True
>>> faults.take("create") is None   # it hits once by default
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, overload

__all__ = ["Fault", "FaultKind", "Faults", "RecordedRequest", "RequestLog"]

FaultKind = Literal["status", "after", "drop", "slow"]


@dataclass
class Fault:
    """One scripted fault; ``times`` is how many matching requests it hits (None: all)."""

    operation: str
    kind: FaultKind = "status"
    status: int = 503
    retry_after: float | None = None
    delay_s: float = 0.0
    after: bool = False
    message: str = "injected fault"
    times: int | None = 1
    hits: int = 0

    @property
    def before_handler(self) -> bool:
        """The request is answered (or dropped) without being handled."""
        return self.kind in ("status", "drop") and not self.after

    @property
    def after_handler(self) -> bool:
        """The request is handled, then answered with the fault (or dropped)."""
        return self.kind == "after" or (self.kind == "drop" and self.after)

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}


@dataclass
class Faults:
    """An emulator's fault script; thread-safe, checked before every request."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, kind: FaultKind = "status", **options: Any) -> Fault:
        """Script a fault for the next ``times`` requests of ``operation``."""
        fault = Fault(operation, kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, operations: str | Iterable[str]) -> Fault | None:
        """The first live fault matching any of ``operations``, counted as one hit."""
        names = {operations} if isinstance(operations, str) else set(operations)
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

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it (tests count and inspect these)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    operation: str


class RequestLog:
    """Every request an emulator received, in order; thread-safe, sliceable like a list."""

    def __init__(self) -> None:
        self._entries: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(request)

    def calls(self, operation: str) -> list[RecordedRequest]:
        """The requests of one operation, oldest first."""
        with self._lock:
            return [r for r in self._entries if r.operation == operation]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @overload
    def __getitem__(self, index: int) -> RecordedRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[RecordedRequest]: ...
    def __getitem__(self, index: int | slice) -> RecordedRequest | list[RecordedRequest]:
        with self._lock:
            return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[RecordedRequest]:
        with self._lock:
            return iter(list(self._entries))
