"""A sweep's grace period and its stored memory, as every adapter's reaper takes them
(``jobrelay.integration.check_grace`` / ``stored_memory``): a memory survives the trip
through an orchestrator's storage, and a damaged one is no memory, never an error."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay.errors import ConfigError
from jobrelay.integration import check_grace, stored_memory

memories = st.dictionaries(st.text(max_size=30), st.text(max_size=30), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=50, deadline=None)
@given(memories)
def test_a_memory_comes_back_as_it_was_kept_or_as_its_json(memory: dict[str, str]) -> None:
    assert stored_memory(memory) == memory
    assert stored_memory(json.dumps(memory)) == memory
    assert stored_memory(json.dumps(memory).encode()) == memory


@settings(max_examples=60, deadline=None)
@given(st.one_of(json_values, json_values.map(json.dumps), st.text(), st.binary()))
def test_anything_stored_is_a_memory_of_strings_or_none(stored: Any) -> None:
    memory = stored_memory(stored)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in memory.items())
    if not isinstance(stored, dict | str | bytes):
        assert memory == {}


@pytest.mark.parametrize("stored", [None, "", "{not json", b"\xff", "[1, 2]", "42", 7, []])
def test_a_damaged_or_foreign_memory_is_no_memory(stored: Any) -> None:
    assert stored_memory(stored) == {}


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0, allow_infinity=False) | st.integers(min_value=0))
def test_a_grace_of_zero_or_more_finite_seconds_is_taken(grace: float) -> None:
    assert check_grace(grace, field="grace_period") == float(grace)


@pytest.mark.parametrize("grace", [-1, -0.5, math.inf, math.nan, True, "60", None])
def test_any_other_grace_is_refused_naming_the_field(grace: Any) -> None:
    with pytest.raises(ConfigError, match="grace_period") as refused:
        check_grace(grace, field="grace_period")
    assert isinstance(refused.value, ValueError)
