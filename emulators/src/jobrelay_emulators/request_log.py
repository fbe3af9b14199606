"""The request log every emulator keeps: each request it received, in order, for tests to
count and inspect (``emulator.requests``, ``emulator.calls(operation)``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it.

    ``operation`` is the emulator's name for what was asked (an endpoint such as ``create``,
    or a GraphQL operation name; ``unknown`` when nothing matched), ``headers`` are
    lower-cased and ``body`` is the parsed JSON body (None for none). A GraphQL request also
    carries the ``root_fields`` its document selects and the ``errors`` the emulator answered.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    operation: str
    root_fields: tuple[str, ...] = ()
    errors: list[str] = field(default_factory=list)

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


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
