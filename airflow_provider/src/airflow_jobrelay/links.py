"""The extra link from a task to its job on the platform's UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["JobRelayJobLink"]


class JobRelayJobLink(BaseOperatorLink):
    """``Job on platform``: the job's UI URL, pushed to XCom under ``key`` at submit time."""

    name = "Job on platform"
    key = "jobrelay_url"

    @property
    def xcom_key(self) -> str:
        return self.key

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # Airflow calls this as the task ends, in the task's process, and stores the answer
        # as the link. The operator knows its job's URL by then; asking XCom for one never
        # pushed makes Airflow log "[error] XCom not found" in every such task's log.
        known = getattr(operator, _URL_ATTR, None)
        if isinstance(known, str):
            return known
        from airflow.sdk.execution_time.xcom import XCom

        url: Any = XCom.get_value(ti_key=ti_key, key=self.key)
        return url if isinstance(url, str) else ""

    @classmethod
    def persist(cls, context: Any, url: str | None) -> None:
        """Push the URL so the link works while the job still runs; a job with no page
        pushes nothing, so the link has no URL and the UI shows no button for it."""
        task = context.get("task")
        if task is not None:
            setattr(task, _URL_ATTR, url or "")
        if url:
            context["ti"].xcom_push(key=cls.key, value=url)


_URL_ATTR = "_jobrelay_job_url"
