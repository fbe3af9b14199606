"""Submitting under an idempotency key: reattach to the key's job instead of submitting
twice, resubmit a failed one under a derived key, and cancel a job whose submit was cut
short. ``AsyncClient.submit`` is this, after its checks and with the client's handoff."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Callable

from jobrelay._cancelling import cancel_job, run_to_end
from jobrelay.errors import ConflictError
from jobrelay.models import JobRef, JobSpec
from jobrelay.platforms.base import Platform

__all__ = ["submit_keyed"]


async def submit_keyed(
    platform: Platform,
    spec: JobSpec,
    key: str,
    *,
    submit_new: Callable[[JobSpec], Awaitable[JobRef]],
    cancel: Callable[[JobRef], Awaitable[None]],
    resubmit_failed: bool,
) -> JobRef:
    """``spec`` submitted under ``key`` (``submit_new`` sends it), or the job already there.

    An active or succeeded job under the key is returned with ``reattached=True``. A failed
    or cancelled one is resubmitted under a derived key (``key#2``, ``key#3``…) unless
    ``resubmit_failed=False``, in which case it is returned as it is. ``cancel`` stops a job
    whose submit was interrupted.
    """
    for generation in itertools.count(1):
        derived = key if generation == 1 else f"{key}#{generation}"
        existing = await platform.find(derived)
        if existing is None:
            try:
                return await submit_new(spec.model_copy(update={"idempotency_key": derived}))
            except ConflictError:
                # Another process won the race for this key: attach to its job.
                existing = await platform.find(derived)
                if existing is None:
                    raise
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    await _cancel_interrupted_submit(platform, derived, cancel, exc)
                raise
        status = await platform.status(existing)
        if not status.state.is_terminal or status.state.is_success or not resubmit_failed:
            return existing.model_copy(update={"reattached": True})
    raise AssertionError("unreachable")


async def _cancel_interrupted_submit(
    platform: Platform, key: str, cancel: Callable[[JobRef], Awaitable[None]], exc: BaseException
) -> None:
    """A submit cut short by a cancellation or an interrupt (a timeout scope, Ctrl-C) may
    have created the job while its answer was in flight: found by its key, it is cancelled,
    so no job is left that nobody holds a handle to. (A job without a key cannot be found:
    the owner's sweep is what stops that one.)"""

    async def find_and_cancel() -> None:
        ref = await platform.find(key)
        if ref is not None:
            await cancel_job(cancel, ref, why="its submit was interrupted", exiting=exc)

    with contextlib.suppress(Exception):
        await run_to_end(find_and_cancel, exiting=exc)
