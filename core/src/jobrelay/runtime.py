"""Job-side artifact helper: read the inputs jobrelay handed in, record the outputs made.

This module uses the standard library only (Python 3.9+), so it works in any job
environment; it can even be copied next to a job script on its own.

>>> from jobrelay import runtime                                     # doctest: +SKIP
>>> frame = open(runtime.input_path("dataset")).read()               # doctest: +SKIP
>>> runtime.log_output("model", "out/model.pt", metadata={"acc": 0.93})  # doctest: +SKIP

The contract between the client and the job is two environment variables:

``JOBRELAY_INPUTS``
    JSON object, input name -> ``{"path": "<local path>", "ref": {<ArtifactRef JSON>}}``.
    ``path`` is a file, or a folder for a folder artifact, that the job may read but must
    not modify; it has already been checked against the artifact's digest. It keeps the
    name the artifact was stored from (``.../inputs/<input name>/data.csv``), so a loader
    that chooses a format by suffix works. ``ref`` is the
    exact version (``uri``, ``name``, ``version``, ``digest``, ``size``, ``type``,
    ``producer``, ``metadata``). A bare string instead of the object is taken as the path,
    which is handy for running a job by hand.

    A job that shares no filesystem with the client (Ray, a hosted cluster) gets
    ``{"ref": {...}, "store": "<store URL>"}`` instead, with no path: :func:`input_path`
    then fetches the version from that store into a temp folder on first use (under the
    same file name), checked against its digest (this needs the ``jobrelay`` package in
    the job; everything else here needs only the standard library).

``JOBRELAY_OUTPUTS``
    A folder the job may write its output files to. :func:`log_output` writes one record
    per output in its ``.jobrelay/`` subfolder, ``.jobrelay/<name>.json``, atomically
    (temp file, fsync, rename), so the job's own files never clash with records::

        {"format": 1, "name": "...", "path": "<absolute path>", "type": "file",
         "metadata": {...}, "aliases": [...]}

    The file or folder at ``path`` must still exist when the job ends: after the job, the
    client reads the records and stores each output as an artifact version produced by
    the job. Files whose names start with ``.`` are not records.

    For a job that shares no filesystem with the client it is a store URL instead (the
    job's area in its platform's job store, ``s3://bucket/jobs/.handoff/<token>/``):
    :func:`log_output` uploads the file or folder there at once, then its record, so the
    job may delete its files afterwards (see :mod:`jobrelay.artifacts.job_side`).
"""

# Annotations stay strings (PEP 563), so the modern syntax below also runs on Python 3.9.
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "INPUTS_ENV",
    "OUTPUTS_ENV",
    "RECORDS_DIR",
    "RECORD_FORMAT",
    "HandoffError",
    "input_path",
    "input_ref",
    "inputs",
    "log_output",
    "outputs_dir",
]

INPUTS_ENV = "JOBRELAY_INPUTS"
OUTPUTS_ENV = "JOBRELAY_OUTPUTS"
# Records live apart from the job's files, so an output file named like a record is fine.
RECORDS_DIR = ".jobrelay"
RECORD_FORMAT = 1

# The same rule the artifact stores apply (jobrelay.artifacts.base.check_name).
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class HandoffError(RuntimeError):
    """An input or output could not be handed over between jobrelay and the job."""


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise HandoffError(
            f"{what} {name!r} is invalid: use 1-128 letters, digits, '.', '_' or '-', "
            "not starting with '.' or '-' (no '/', ':' or spaces)"
        )
    return name


def _load_inputs() -> dict[str, dict[str, Any]]:
    raw = os.environ.get(INPUTS_ENV)
    if raw is None:
        raise HandoffError(
            f"${INPUTS_ENV} is not set: this process was not started by jobrelay with "
            f'inputs. To run it by hand, set {INPUTS_ENV}=\'{{"NAME": "/path/to/file"}}\''
        )
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise HandoffError(f"${INPUTS_ENV} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise HandoffError(f"${INPUTS_ENV} must be a JSON object of name -> input")
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in parsed.items():
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not (
            isinstance(entry.get("path"), str)
            or (isinstance(entry.get("store"), str) and isinstance(entry.get("ref"), dict))
        ):
            raise HandoffError(
                f'${INPUTS_ENV}: input {name!r} has no "path" (or "store" and "ref")'
            )
        entries[name] = entry
    return entries


def inputs() -> dict[str, Path]:
    """Every input's local path by name; ``HandoffError`` if ``$JOBRELAY_INPUTS`` is unset."""
    return {name: _local_path(name, entry) for name, entry in _load_inputs().items()}


def _entry(name: str) -> dict[str, Any]:
    entries = _load_inputs()
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise HandoffError(f"no input named {name!r}; this job's inputs are: {known}")
    return entries[name]


def input_path(name: str) -> Path:
    """The local path of input ``name``: a file, or a folder for a folder artifact.

    An input handed over as a store and a ref (no path) is fetched into a temp folder on
    the first call and verified against its digest; later calls return the same path.
    Raises ``HandoffError`` when the name is unknown or no inputs were passed.
    """
    return _local_path(name, _entry(name))


# Inputs fetched from a store by this process: name -> (entry, local path).
_fetched: dict[str, tuple[dict[str, Any], Path]] = {}


def _local_path(name: str, entry: dict[str, Any]) -> Path:
    if isinstance(entry.get("path"), str):
        return Path(entry["path"])
    if name in _fetched and _fetched[name][0] == entry:
        return _fetched[name][1]
    from jobrelay.artifacts.job_side import fetch_input  # the only non-stdlib import

    folder = Path(tempfile.mkdtemp(prefix=f"jobrelay-input-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    path = fetch_input(name, entry, folder)
    _fetched[name] = (entry, path)
    return path


def input_ref(name: str) -> dict[str, Any]:
    """The exact artifact version of input ``name`` as JSON (``name``, ``version``, ...)."""
    return dict(_entry(name).get("ref") or {})


_scratch: list[Path] = []


def outputs_dir() -> Path:
    """A folder to write output files in before :func:`log_output` records them.

    ``$JOBRELAY_OUTPUTS`` when the job shares a filesystem with the client (the files stay
    there until the client collects them); for a job whose outputs go to a store URL, a
    temp folder of this process (``log_output`` uploads at once, so it may go at exit).
    The same job code works on every platform::

        path = runtime.outputs_dir() / "model.pt"
        torch.save(model, path)
        runtime.log_output("model", path)
    """
    folder = os.environ.get(OUTPUTS_ENV)
    if folder and "://" not in folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    if not _scratch:
        _scratch.append(Path(tempfile.mkdtemp(prefix="jobrelay-outputs-")))
        atexit.register(shutil.rmtree, _scratch[0], True)
    return _scratch[0]


def log_output(
    name: str,
    path: str | os.PathLike[str],
    *,
    type: str = "file",
    metadata: dict[str, Any] | None = None,
    aliases: Iterable[str] = (),
) -> None:
    """Record the file or folder at ``path`` as output ``name`` of this job.

    The client stores it as a new artifact version after the job ends, with this job as
    its producer. ``type`` labels it (a folder's default is ``"dir"``); ``metadata`` must
    be JSON-serializable; ``aliases`` are extra names for the version (``"best"``).
    Logging the same name again replaces the earlier record.

    Raises ``HandoffError`` if ``$JOBRELAY_OUTPUTS`` is unset, the name is invalid, the
    path does not exist or the metadata is not JSON.
    """
    _check_name(name, "output name")
    alias_list = [_check_name(alias, "alias") for alias in aliases]
    for alias in alias_list:
        if re.match(r"^v[0-9]+$", alias):
            raise HandoffError(f"alias {alias!r} looks like a version; pick another alias")
    target = Path(path).resolve()
    if not target.exists():
        raise HandoffError(f"output {name!r}: {target} does not exist")
    folder = os.environ.get(OUTPUTS_ENV)
    if not folder:
        raise HandoffError(
            f"${OUTPUTS_ENV} is not set, so output {name!r} has nowhere to go. A job on a "
            "platform that shares no filesystem with the client (Ray...) needs an artifacts "
            "store its jobs can reach: set the platform's artifacts setting (e.g. "
            "ray://HOST:8265?artifacts=s3://bucket/jobs). Run by hand, set "
            f"{OUTPUTS_ENV}=/some/folder"
        )
    record = {
        "format": RECORD_FORMAT,
        "name": name,
        "path": str(target),
        "type": type,
        "metadata": dict(metadata or {}),
        "aliases": alias_list,
    }
    try:
        data = json.dumps(record, sort_keys=True).encode()
    except (TypeError, ValueError) as exc:
        raise HandoffError(f"output {name!r}: metadata is not JSON-serializable: {exc}") from None
    if "://" in folder:
        from jobrelay.artifacts.job_side import upload_output  # the only non-stdlib import

        upload_output(folder, record, target)
        return
    _write_atomic(Path(folder) / RECORDS_DIR, f"{name}.json", data)


def _write_atomic(folder: Path, filename: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{filename}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # The client may read the folder at any moment: rename makes the record appear
        # whole or not at all.
        os.replace(tmp, folder / filename)
    finally:
        if tmp.exists():
            tmp.unlink()
