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
        from airflow.sdk.execution_time.xcom import XCom

        url: Any = XCom.get_value(ti_key=ti_key, key=self.key)
        return url if isinstance(url, str) else ""

    @classmethod
    def persist(cls, context: Any, url: str | None) -> None:
        """Push the URL so the link works while the job still runs; a job with no page
        (a local job) pushes nothing, so the link has no URL and the UI shows none."""
        if url:
            context["ti"].xcom_push(key=cls.key, value=url)
