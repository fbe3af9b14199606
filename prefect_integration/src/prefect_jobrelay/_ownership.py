"""Who owns a job the integration submits: the Prefect installation and unit of work.

Every job carries ``prefect:<installation>:<flow run id>:<task run id>`` (``-`` for a part
there is none of: a job a flow submits itself has no task run, a task run outside any flow
run has no flow run), so :func:`~prefect_jobrelay._reaper.cancel_orphaned_jobs` can find the
jobs whose flow run has ended. The owner is read from the run context where the job is
submitted; outside any flow or task run a job has no owner (nothing could say it ended).

The installation tells two Prefect servers (or Cloud workspaces) sharing a platform apart,
and must be the same in the flow runs and in the reaper: by default it is a short digest
of the API URL the Prefect client talks to (``PREFECT_API_URL``; in ephemeral mode, of the
database it opens). Where flow runs and the reaper reach one server by different URLs
(``http://prefect:4200/api`` in one network, ``http://localhost:4200/api`` in another), set
``JOBRELAY_PREFECT_INSTALLATION`` to one id everywhere (1-64 letters, digits, ``_.-``).
"""

from __future__ import annotations

import hashlib
import os

from jobrelay import AsyncClient, ConfigError, JobSpec
from jobrelay.integration import Owner, with_deadline
from jobrelay.integration import with_owner as owning
from prefect.context import FlowRunContext, TaskRunContext
from prefect.settings import get_current_settings

__all__ = ["INSTALLATION_ENV", "ORCHESTRATOR", "current_owner", "installation_id", "owned"]

ORCHESTRATOR = "prefect"
INSTALLATION_ENV = "JOBRELAY_PREFECT_INSTALLATION"
NONE = "-"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def installation_id(api_url: str | None = None) -> str:
    """This Prefect installation's id: ``JOBRELAY_PREFECT_INSTALLATION`` when set, else a
    digest of ``api_url`` (by default the API URL Prefect's settings give), else, with no
    API URL (ephemeral mode), of the database URL."""
    given = os.environ.get(INSTALLATION_ENV, "").strip()
    if given:
        try:
            Owner(ORCHESTRATOR, given, (NONE,))
        except ValueError as exc:
            raise ConfigError(str(exc), field=INSTALLATION_ENV) from None
        return given
    settings = get_current_settings()
    url = api_url if api_url is not None else settings.api.url
    if url:
        return _digest(url.strip().rstrip("/").lower())
    database = settings.server.database.connection_url
    text = database.get_secret_value() if database is not None else ""
    return "ephemeral-" + _digest(text)


def current_owner() -> Owner | None:
    """The owner of a job submitted here: this flow run and task run (None outside any)."""
    task_run_ctx = TaskRunContext.get()
    if task_run_ctx is not None:
        run = task_run_ctx.task_run
        flow_run = str(run.flow_run_id) if run.flow_run_id is not None else NONE
        return Owner(ORCHESTRATOR, installation_id(), (flow_run, str(run.id)))
    flow_run_ctx = FlowRunContext.get()
    if flow_run_ctx is not None and flow_run_ctx.flow_run is not None:
        return Owner(ORCHESTRATOR, installation_id(), (str(flow_run_ctx.flow_run.id), NONE))
    return None


async def owned(
    client: AsyncClient, spec: JobSpec, run_timeout: float | None, *, with_owner: bool = True
) -> JobSpec:
    """``spec`` as it is submitted from here: owned by this run (where the platform keeps
    owners, unless ``with_owner=False``) and with the platform's own deadline after
    ``run_timeout`` (where it enforces one). Call it where the run context is, right before
    ``client.submit``."""
    platform = await client.platform()
    owner = current_owner() if with_owner else None
    return with_deadline(owning(spec, owner, platform), run_timeout, platform)
