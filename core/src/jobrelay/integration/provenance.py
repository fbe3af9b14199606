"""Tags that say which orchestrator run a job came from, where the platform keeps tags.

An adapter labels its jobs (``airflow_dag_id``, ``prefect_flow_run_id`` ...) so a user can
find them on the platform. A platform that takes no tags (W&B Launch) would refuse the spec
for them, so these labels go only where ``capabilities.tags`` says they are kept; the user's
own ``tags`` are never dropped (the core refuses them there, naming the field).
"""

from __future__ import annotations

from collections.abc import Mapping

from jobrelay.models import JobSpec
from jobrelay.platforms.base import Platform

__all__ = ["with_provenance"]


def with_provenance(spec: JobSpec, labels: Mapping[str, str], platform: Platform) -> JobSpec:
    """``spec`` with ``labels`` under its own tags, when ``platform`` keeps tags."""
    if not labels or not platform.capabilities.tags:
        return spec
    return spec.model_copy(update={"tags": {**labels, **spec.tags}})
