"""Names a package declares and loads on first use (PEP 562).

A package lists where each of its names lives and hands this module's loader its
``__getattr__``; importing the package then costs nothing beyond the standard library, and
each name (with its module) is imported the first time it is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose name ``n`` lives in the
    module ``homes[n]``; ``namespace`` is the package's ``globals()``, where each name is
    kept once loaded, so later reads are plain attribute reads.

    Keep a declared name apart from the package's submodule names: importing a submodule
    sets the package attribute of its name, which would then hide the declared value.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.get("__all__", homes))

    return __getattr__, __dir__
