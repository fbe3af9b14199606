"""The fault injector every emulator shares.

A fault is scripted per *operation* (the emulator's name for one endpoint or GraphQL
operation: ``create``, ``get_job``, ``pushToRunQueueByName``, ``storage.PUT``, or ``*`` for
every request) and hits the next ``times`` matching requests:

* ``status``: answer ``status`` (with ``Retry-After`` when given) without handling it;
* ``after``: handle the request, then answer ``status`` (a create that was accepted);
* ``drop``: close the connection without an answer (``after=True``: once handled);
* ``slow``: wait ``delay_s``, then handle it as usual (``after=True``: handle at once,
  answer late);
* ``graphql_error``: answer 200 with a GraphQL ``errors`` entry (W&B only);
* ``corrupt``: serve a download with its first byte flipped (W&B storage only).

An emulator accepts the kinds it can play (:attr:`Faults.kinds`); any other is refused when
it is scripted, not silently ignored.

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
from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack, get_args

__all__ = ["HTTP_FAULT_KINDS", "Fault", "FaultKind", "FaultOptions", "Faults"]

FaultKind = Literal["status", "after", "drop", "slow", "graphql_error", "corrupt"]
# What any HTTP emulator can play; the GraphQL and storage kinds need an emulator that has them.
HTTP_FAULT_KINDS: frozenset[FaultKind] = frozenset({"status", "after", "drop", "slow"})


class FaultOptions(TypedDict, total=False):
    """The options of a scripted fault (:class:`Fault`'s fields, with its defaults)."""

    status: int
    retry_after: float | None
    delay_s: float
    after: bool
    message: str
    times: int | None


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

    @property
    def delay_before(self) -> float:
        """Seconds to wait before the request is handled."""
        return self.delay_s if self.kind == "slow" and not self.after else 0.0

    @property
    def delay_after(self) -> float:
        """Seconds to wait after it was handled, before the answer goes out."""
        return self.delay_s if self.kind == "slow" and self.after else 0.0

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}


class Faults:
    """An emulator's fault script; thread-safe, checked before every request."""

    def __init__(self, kinds: Iterable[FaultKind] = get_args(FaultKind)) -> None:
        self.kinds: frozenset[FaultKind] = frozenset(kinds)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self, operation: str, kind: FaultKind = "status", **options: Unpack[FaultOptions]
    ) -> Fault:
        """Script a fault for the next ``times`` requests of ``operation``."""
        if kind not in self.kinds:
            raise ValueError(f"this emulator cannot play a {kind!r} fault: {sorted(self.kinds)}")
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
