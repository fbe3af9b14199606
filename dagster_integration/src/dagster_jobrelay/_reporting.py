"""What a user sees in Dagster: the job's state changes and log lines in the run's event
log as they happen, and the run record as materialization metadata."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from dagster import MetadataValue
from jobrelay import JobRef, JobUpdate, LogLine

__all__ = ["LineHandler", "record_metadata", "reporter", "submitted"]

# Gets each job log line first; True when it took the line (a Pipes message), so it is
# not also written to the run's log.
LineHandler = Callable[[LogLine], bool]


def submitted(log: logging.Logger, ref: JobRef) -> None:
    verb = "Reattached to" if ref.reattached else "Submitted"
    where = f" ({ref.url})" if ref.url else ""
    log.info("%s job %s on %s%s", verb, ref.id, ref.platform, where)


def reporter(
    log: logging.Logger, ref: JobRef, take_line: LineHandler | None = None
) -> Callable[[JobUpdate], None]:
    """An ``on_update`` callback: a line per state change, the job's lines as they come
    (stderr lines as warnings)."""

    def report(update: JobUpdate) -> None:
        status = update.status
        if update.kind == "log":
            for line in update.lines:
                if take_line is not None and take_line(line):
                    continue
                log.log(logging.WARNING if line.stream == "stderr" else logging.INFO, line.text)
        elif update.kind == "state":
            where = f" in queue {status.queue}" if status.queue and status.state.is_waiting else ""
            if status.queue_position is not None and status.state.is_waiting:
                where += f" at position {status.queue_position}"
            log.info("Job %s is %s%s", ref.id, status.state.value, where)
        elif status.queue_position is not None:
            log.info("Job %s is at position %s in its queue", ref.id, status.queue_position)

    return report


def record_metadata(record: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """The run record as Dagster metadata: one entry per field a user looks at, the URL as
    a link, the outputs and the whole record as JSON (what a sensor or a script reads)."""
    metadata: dict[str, MetadataValue] = {
        "job_id": MetadataValue.text(str(record["job_id"])),
        "platform": MetadataValue.text(str(record["platform"])),
        "state": MetadataValue.text(str(record["state"])),
    }
    if record.get("url"):
        metadata["url"] = MetadataValue.url(str(record["url"]))
    if record.get("queue"):
        metadata["queue"] = MetadataValue.text(str(record["queue"]))
    for name in ("queued_s", "ran_s"):
        if record.get(name) is not None:
            metadata[name] = MetadataValue.float(float(record[name]))
    if record.get("exit_code") is not None:
        metadata["exit_code"] = MetadataValue.int(int(record["exit_code"]))
    metadata["outputs"] = MetadataValue.json(dict(record.get("outputs") or {}))
    metadata["run_record"] = MetadataValue.json(dict(record))
    return metadata
