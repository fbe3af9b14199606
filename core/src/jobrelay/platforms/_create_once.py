"""Send a create that the platform cannot de-duplicate, without ever making two jobs.

A hosted API without an idempotency key (Anyscale's job create, Fused's ``POST /run``) may
have made the job although the answer was a 5xx or the connection dropped: the job exists
and the caller does not know it. Sending the create again would make a second one. So each
create carries a marker of its own (a nonce tag, the idempotency key in the job's name) and
:func:`create_once` looks the marker up before any resend.

>>> import asyncio
>>> async def send() -> str:
...     return "job-1"
>>> async def find() -> str | None:
...     return None
>>> asyncio.run(create_once(send, find))
'job-1'
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from jobrelay.errors import RateLimitedError, ServerError, TransportError
from jobrelay.http import RetryPolicy

__all__ = ["create_once"]

T = TypeVar("T")
_DEFAULT = RetryPolicy()


def _pause(policy: RetryPolicy, attempt: int, error: Exception) -> float:
    """Seconds to wait after ``attempt`` (0-based) failed with ``error``."""
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return min(float(error.retry_after), policy.retry_after_cap_s)
    return float(min(policy.wait_initial_s * 2.0**attempt, policy.wait_max_s))


async def create_once(
    send: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    policy: RetryPolicy = _DEFAULT,
) -> T:
    """``await send()``; after a transport error, a 5xx or a 429, ``await find()`` first and
    return what it found, else send again: at most ``policy.attempts`` sends, ``Retry-After``
    honoured (capped), else exponential backoff (the platform's one :class:`RetryPolicy`).

    ``send`` must not retry by itself (an ``HttpSession`` POST with ``idempotent=False``).
    When every attempt failed, one last lookup runs (the last create may have been made)
    before the last error is raised. Any other error (a 4xx) is raised at once.
    """
    last: Exception | None = None
    for attempt in range(policy.attempts):
        if attempt:
            found = await find()
            if found is not None:
                return found
        try:
            return await send()
        except (RateLimitedError, ServerError, TransportError) as exc:
            last = exc
            if attempt < policy.attempts - 1:
                await asyncio.sleep(_pause(policy, attempt, exc))
    found = await find()
    if found is not None:
        return found
    assert last is not None
    raise last
