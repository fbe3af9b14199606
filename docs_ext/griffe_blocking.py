"""A griffe extension for the docs: the sync ``Client``'s methods are made at import time from
``AsyncClient``'s (``name = blocking(AsyncClient.name)`` in ``jobrelay/sync_client.py``),
which griffe's static reading sees as plain attributes. This turns each such attribute into
the method it becomes: the async method's parameters and docstring, its sync return type.
"""

from __future__ import annotations

from typing import Any

import griffe

MAKERS = {"blocking", "blocking_pages"}  # the functions in jobrelay.sync_client


class BlockingMethods(griffe.Extension):
    """Document ``Client.x = blocking(AsyncClient.x)`` as the method ``Client.x``."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "jobrelay":
            return
        client = pkg["sync_client.Client"]
        source = pkg["client.AsyncClient"]
        for name, member in list(client.members.items()):
            made = _made_from(member)
            if made is None:
                continue
            maker, async_name = made
            original = source.members[async_name]
            method = griffe.Function(
                name,
                lineno=member.lineno,
                endlineno=member.endlineno,
                parameters=griffe.Parameters(*original.parameters),
                returns=_sync_return(original.returns, pages=maker == "blocking_pages"),
                docstring=original.docstring,
            )
            client.set_member(name, method)


def _made_from(member: Any) -> tuple[str, str] | None:
    """(maker, async method name) for an attribute ``blocking(AsyncClient.name, ...)``."""
    value = getattr(member, "value", None)
    if not isinstance(value, griffe.ExprCall) or str(value.function) not in MAKERS:
        return None
    target = value.arguments[0] if value.arguments else None
    if not isinstance(target, griffe.ExprAttribute):
        return None
    return str(value.function), str(target.last.name)


def _sync_return(returns: Any, *, pages: bool) -> Any:
    if not pages:
        return returns  # an async def's annotation is already what the sync call returns
    # AsyncIterator[X] -> Iterator[X]
    return str(returns).replace("AsyncIterator", "Iterator", 1)
