"""What a user sees in Prefect: the job's state changes and log lines in the run's logs,
and the run record as an artifact."""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from jobrelay import JobRef, JobUpdate
from prefect.artifacts import acreate_markdown_artifact
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger, get_run_logger

__all__ = ["Logger", "record_artifact", "reporter", "run_logger", "submitted"]

Logger = logging.Logger | logging.LoggerAdapter[Any]


def run_logger() -> Logger:
    """The Prefect run logger inside a flow or task run, else ``prefect_jobrelay``'s."""
    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger("prefect_jobrelay")


def submitted(logger: Logger, ref: JobRef) -> None:
    verb = "Reattached to" if ref.reattached else "Submitted"
    where = f" ({ref.url})" if ref.url else ""
    logger.info("%s job %s on %s%s", verb, ref.id, ref.platform, where)


def reporter(logger: Logger, ref: JobRef) -> Any:
    """An ``on_update`` callback: a line per state change, the job's lines as they come."""

    def report(update: JobUpdate) -> None:
        status = update.status
        if update.kind == "log":
            # One level for every line: only the local platform tells stderr apart (Ray,
            # Anyscale, W&B and Fused logs are the job's merged output), and a job's stderr is
            # often its progress, not a warning.
            for line in update.lines:
                logger.info("%s", line.text)
        elif update.kind == "state":
            where = f" in queue {status.queue}" if status.queue and status.state.is_waiting else ""
            position = (
                f" at position {status.queue_position}"
                if status.queue_position is not None and status.state.is_waiting
                else ""
            )
            logger.info("Job %s is %s%s%s", ref.id, status.state.value, where, position)
        elif status.queue_position is not None:
            logger.info("Job %s is at position %s in its queue", ref.id, status.queue_position)

    return report


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


async def record_artifact(record: dict[str, Any], *, key: str | None = None) -> UUID:
    """A markdown artifact: a link to the job's page (where the platform has one), a
    table of the record, and the record itself as JSON (a downstream reader parses it)."""
    outputs = ", ".join(f"{name} = {ref['uri']}" for name, ref in record["outputs"].items())
    rows = [
        ("job id", record["job_id"]),
        ("platform", record["platform"]),
        ("queue", record["queue"]),
        ("queued s", record["queued_s"]),
        ("ran s", record["ran_s"]),
        ("state", record["state"]),
        ("exit code", record["exit_code"]),
        ("outputs", outputs or "-"),
    ]
    lines = []
    if record["url"]:
        lines += [f"[Open job {record['job_id']} on its platform]({record['url']})", ""]
    lines += ["| field | value |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    lines += ["", "```json", json.dumps(record, indent=2, sort_keys=True), "```"]
    return await acreate_markdown_artifact(
        markdown="\n".join(lines),
        key=key,
        description=f"jobrelay run record: job {record['job_id']} {record['state']}",
    )
