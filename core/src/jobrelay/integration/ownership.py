"""What an adapter puts on a job so that nothing outlives its owner: the owner, and the
platform's own deadline.

- :func:`with_owner` records the unit of work that submits the job
  (:class:`~jobrelay._owners.Owner`), where the platform keeps it, so a sweep can read it
  back from the job list (:func:`jobrelay.integration.sweep`).
- :func:`with_deadline` sets the platform's own run-time limit (``JobSpec.timeout_s``) from
  the wait's ``run_timeout`` where the platform enforces one and the user set none: the
  last line, so a job cannot outlive a dead sweeper forever.
"""

from __future__ import annotations

import math

from jobrelay._owners import Owner
from jobrelay.models import JobSpec
from jobrelay.platforms.base import Platform

__all__ = ["DEADLINE_SLACK_S", "with_deadline", "with_owner"]

# The platform's limit comes after the wait's own, so the wait reports its timeout (and
# cancels) first; the platform's is only for a wait that is no longer there.
DEADLINE_SLACK_S = 60.0


def with_owner(spec: JobSpec, owner: Owner | None, platform: Platform) -> JobSpec:
    """``spec`` owned by ``owner`` when ``platform`` keeps owners (every built-in one does);
    a spec that names its own owner keeps it."""
    if owner is None or spec.owner is not None or not platform.capabilities.owners:
        return spec
    return spec.model_copy(update={"owner": str(owner)})


def with_deadline(spec: JobSpec, run_timeout: float | None, platform: Platform) -> JobSpec:
    """``spec`` with ``timeout_s = run_timeout + DEADLINE_SLACK_S`` (whole seconds) when the
    platform enforces a per-attempt limit and ``spec`` sets none."""
    if (
        run_timeout is None
        or spec.timeout_s is not None
        or not platform.capabilities.timeout
        or not math.isfinite(run_timeout)
        or run_timeout <= 0
    ):
        return spec
    return spec.model_copy(update={"timeout_s": float(math.ceil(run_timeout + DEADLINE_SLACK_S))})
