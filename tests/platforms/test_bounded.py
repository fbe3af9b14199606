"""The platforms' per-job memory stays bounded: past its cap the least recently used job is
forgotten (a hypothesis model check against a plain list of keys)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from jobrelay.platforms._bounded import Bounded

ops = hs.lists(
    hs.tuples(hs.sampled_from(["set", "get", "del", "walk"]), hs.integers(0, 9)), max_size=60
)


@settings(max_examples=60, deadline=None)
@given(cap=hs.integers(1, 5), steps=ops)
def test_it_keeps_the_cap_most_recently_used(cap: int, steps: list[tuple[str, int]]) -> None:
    cache: Bounded[int, int] = Bounded(cap)
    order: list[int] = []  # least recently used first
    for op, key in steps:
        if op == "set":
            cache[key] = key * 10
            order = [k for k in order if k != key] + [key]
            order = order[-cap:]
        elif op == "get" and key in order:
            assert cache[key] == key * 10
            order = [k for k in order if k != key] + [key]
        elif op == "get":
            assert cache.get(key) is None
        elif op == "walk":  # reading every entry is not a use of any
            assert list(cache.items()) == [(k, k * 10) for k in order]
            assert list(cache.values()) == [k * 10 for k in order]
        elif key in order:
            del cache[key]
            order.remove(key)
        assert list(cache) == order
        assert len(cache) <= cap


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="cap"):
        Bounded(0)
