"""The job's side of a remote handoff area (see :mod:`jobrelay.artifacts.job_area`).

What :mod:`jobrelay.runtime` imports, only when an input has no local path or
``$JOBRELAY_OUTPUTS`` is a URL: fetch an input from the store its entry names, and upload
an output and its record into the job's area.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

# fsspec ships no type information; what we use of it is typed at this boundary.
import fsspec  # type: ignore[import-untyped]

from jobrelay._threads import run_to_completion
from jobrelay.artifacts.base import local_file_name
from jobrelay.artifacts.registry import opened_store
from jobrelay.models import ArtifactRef
from jobrelay.runtime import RECORDS_DIR, HandoffError

__all__ = ["OUTPUTS_DIR", "fetch_input", "upload_output"]

# An area's outputs folder, beside its records folder (runtime.RECORDS_DIR).
OUTPUTS_DIR = "outputs"


def fetch_input(name: str, entry: dict[str, Any], folder: Path) -> Path:
    """Fetch input ``name`` from the store its entry names into ``folder``, verified, under
    the name it was stored with (``folder/data.csv``; ``folder/<name>`` when none is known)."""
    store_url = entry.get("store")
    try:
        ref = ArtifactRef.model_validate(entry.get("ref"))
    except ValueError:
        raise HandoffError(f"input {name!r} has no valid ref to fetch") from None
    if not isinstance(store_url, str):
        raise HandoffError(f"input {name!r} names neither a path nor a store")

    async def fetch() -> Path:
        async with opened_store(store_url) as store:
            return await store.fetch(ref, folder / local_file_name(ref, name))

    return run_to_completion(fetch, thread_name="jobrelay-handoff")


def upload_output(outputs_url: str, record: dict[str, Any], path: Path) -> None:
    """Upload the file or folder at ``path`` into the area, then its record.

    The record goes up last, so the client never sees a record whose bytes are missing.
    Logging a name again replaces both.
    """
    fs, root = fsspec.core.url_to_fs(outputs_url)
    root = root.rstrip("/")
    name = record["name"]
    target = f"{root}/{OUTPUTS_DIR}/{name}"
    with contextlib.suppress(FileNotFoundError):
        fs.rm(target, recursive=True)
    if path.is_dir():
        fs.makedirs(target, exist_ok=True)
        fs.put(f"{path}/", target, recursive=True)
    else:
        fs.makedirs(f"{root}/{OUTPUTS_DIR}", exist_ok=True)
        fs.put_file(str(path), target)
    body = {**record, "path": f"{OUTPUTS_DIR}/{name}", "layout": "dir" if path.is_dir() else "file"}
    fs.makedirs(f"{root}/{RECORDS_DIR}", exist_ok=True)
    fs.pipe_file(f"{root}/{RECORDS_DIR}/{name}.json", json.dumps(body, sort_keys=True).encode())
