"""Platform wrappers the kit puts between the client and the platform under test."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from jobrelay import JobRef, JobSpec, JobStatus, LogPage, ServerError
from jobrelay.platforms import Capabilities, Platform


class CountingPlatform:
    """Passes every call to ``inner`` and records the size of every ``statuses()`` call.

    ``status_calls`` is what the status-sharing tests read: one entry per batch status call,
    the number of jobs it asked about. Queue administration and a platform's extras pass
    through unchanged.
    """

    def __init__(self, inner: Platform) -> None:
        self.inner = inner
        self.name = inner.name
        self.url = inner.url
        self.capabilities: Capabilities = inner.capabilities
        self.status_calls: list[int] = []

    async def submit(self, spec: JobSpec) -> JobRef:
        return await self.inner.submit(spec)

    async def find(self, idempotency_key: str) -> JobRef | None:
        return await self.inner.find(idempotency_key)

    async def status(self, ref: JobRef) -> JobStatus:
        return await self.inner.status(ref)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        self.status_calls.append(len(refs))
        return await self.inner.statuses(refs)

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        return await self.inner.logs(ref, cursor, terminal=terminal)

    async def cancel(self, ref: JobRef) -> None:
        await self.inner.cancel(ref)

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        return await self.inner.list_jobs(limit=limit, queue=queue)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # queue admin and a platform's extras
        return getattr(self.inner, name)


class SlowFailingStatus(CountingPlatform):
    """Every status call takes ``delay_s``, and every other one then fails with an HTTP 503
    (as an overloaded platform does): what log following must survive. ``calls`` counts
    the status calls made."""

    def __init__(self, inner: Platform, delay_s: float = 0.3) -> None:
        super().__init__(inner)
        self.delay_s = delay_s
        self.calls = 0

    async def _slow_and_flaky(self) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.calls % 2:
            raise ServerError("get status failed with HTTP 503: injected", status_code=503)

    async def status(self, ref: JobRef) -> JobStatus:
        await self._slow_and_flaky()
        return await self.inner.status(ref)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        await self._slow_and_flaky()
        return await super().statuses(refs)
