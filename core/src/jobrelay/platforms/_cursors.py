"""The opaque log cursor of the hosted platforms: a few named fields as URL-safe base64 JSON.

Pure (no I/O). A cursor is read back only with exactly the fields it was written with, so a
cursor of another platform (other fields), a truncated or an edited one is refused with
``ConfigError(field="cursor")`` instead of being read as a wrong position.

>>> cursor = write_cursor({"t": 1700000000000, "s": 2})
>>> read_cursor(cursor, {"t": (int, type(None)), "s": (int,)}, platform="Fused")
{'t': 1700000000000, 's': 2}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from jobrelay.errors import ConfigError

__all__ = ["CursorValue", "read_cursor", "write_cursor"]

CursorValue = int | str | None


def write_cursor(fields: Mapping[str, CursorValue]) -> str:
    """``fields`` as an opaque cursor (compact JSON, URL-safe base64)."""
    text = json.dumps(dict(fields), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def read_cursor(
    cursor: str, shape: Mapping[str, tuple[type, ...]], *, platform: str
) -> dict[str, CursorValue]:
    """The fields of a cursor :func:`write_cursor` made: exactly the keys of ``shape``, each
    value of one of the types ``shape`` gives it (``int`` is a whole number, never negative,
    never a bool; ``type(None)`` allows null).

    Raises ``ConfigError(field="cursor")`` for anything else, naming ``platform``.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    # binascii.Error and JSON/UTF-8 decoding errors are ValueErrors; a lone surrogate fails
    # .encode(); a forged cursor nested deeply enough exhausts the JSON parser's recursion.
    except (ValueError, UnicodeError, RecursionError):
        data = None
    if not (
        isinstance(data, dict)
        and set(data) == set(shape)
        and all(_fits(data[key], types) for key, types in shape.items())
    ):
        raise ConfigError(
            f"is not a log cursor the {platform} platform made; pass the cursor of a page "
            "it returned, or None to read from the start",
            field="cursor",
        )
    return data


def _fits(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true is not a position
        return False
    if isinstance(value, int):
        return int in types and value >= 0
    return isinstance(value, types)
