"""What differs between the Airflow versions the provider supports (3.1+)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ResumableJobMixin"]

if TYPE_CHECKING:
    from airflow.sdk import ResumableJobMixin
else:
    try:
        from airflow.sdk import ResumableJobMixin
    except ImportError:  # Airflow < 3.3: no task state store; the core's key-based reattach

        class ResumableJobMixin:
            """Stand-in for Airflow 3.3's mixin: submit (idempotent by key), wait, result."""

            def execute_resumable(self, context: Any) -> Any:
                external_id = self.submit_job(context)
                self.poll_until_complete(external_id, context)
                return self.get_job_result(external_id, context)
