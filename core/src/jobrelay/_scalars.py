"""Checks of single values every layer takes: seconds and flags.

A refusal is a :class:`~jobrelay.errors.ConfigError` whose ``field`` names the argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from jobrelay.errors import ConfigError
from jobrelay.models import MAX_SECONDS

__all__ = ["check_flag", "check_seconds", "field_name"]


def field_name(field: str, names: Mapping[str, str] | None) -> str:
    """``field`` as the caller spells it: ``names`` maps the core's names to an adapter's."""
    return names.get(field, field) if names else field


def check_seconds(value: object, *, field: str, optional: bool = True) -> float | None:
    """``value`` as seconds: a positive, finite number (``None`` too when ``optional``).

    Refuses booleans, strings, NaN, infinity, zero and negatives with a ``ConfigError``
    naming ``field``.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"must be a number of seconds{' or None' if optional else ''}, got {value!r}",
            field=field,
        )
    if not (value > 0 and math.isfinite(value)):
        hint = " (None: no limit)" if optional else ""
        raise ConfigError(
            f"must be a positive, finite number of seconds, got {value}{hint}", field=field
        )
    if value > MAX_SECONDS:
        raise ConfigError(
            f"must be at most {MAX_SECONDS:g} seconds, got {value:g}"
            + (" (None: no limit)" if optional else ""),
            field=field,
        )
    return float(value)


def check_flag(value: object, *, field: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (not a truthy string such as ``"no"``)."""
    if not isinstance(value, bool):
        raise ConfigError(f"must be True or False, got {value!r}", field=field)
    return value
