"""``Bounded``: a dict that forgets its least recently used entries past a cap.

What a long-lived process (a triggerer polling thousands of jobs for days, an agent) keeps per
job or per spec, in a platform or in the client's handoff: enough for the jobs it is watching,
never a growing copy of the account's history. A forgotten entry costs one read (or one
packing, one download) again, nothing else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import ItemsView, Iterator, MutableMapping, ValuesView
from typing import TypeVar

__all__ = ["Bounded"]

K = TypeVar("K")
V = TypeVar("V")


class Bounded(MutableMapping[K, V]):
    """At most ``cap`` entries; reading or writing one makes it the most recently used.

    A membership test or a walk over the keys, values or items does not count as a use.
    """

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.cap = cap
        self._items: OrderedDict[K, V] = OrderedDict()

    def __getitem__(self, key: K) -> V:
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.cap:
            self._items.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items  # a membership test does not count as a use

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    # The inherited views would read each value through __getitem__, reordering the entries
    # under the walk (an OrderedDict mutated during iteration).
    def values(self) -> ValuesView[V]:
        return self._items.values()

    def items(self) -> ItemsView[K, V]:
        return self._items.items()
