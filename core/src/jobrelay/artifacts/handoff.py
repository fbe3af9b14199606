"""What the client calls around a job to hand artifacts in and out of it.

Around one job::

    env = await prepare_inputs(spec.inputs, store, workdir)     # before submit
    ref = await platform.submit(spec.model_copy(update={"env": {**spec.env, **env}}))
    await record_inputs_consumed(env, store, ref)                # lineage: ref read them
    ...                                                           # the job runs
    outputs = await collect_outputs(outputs_dir(env), store, ref) # after it succeeded

The job side of the contract (``JOBRELAY_INPUTS`` / ``JOBRELAY_OUTPUTS``) is documented in
:mod:`jobrelay.runtime`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import (
    ArtifactStore,
    SupportsLocalBlobs,
    check_alias,
    check_name,
    local_file_name,
    ref_to_json,
    split_artifact_uri,
)
from jobrelay.artifacts.localfs import remove_quietly, write_atomic
from jobrelay.artifacts.staging import stage
from jobrelay.errors import ArtifactError
from jobrelay.models import ArtifactRef, JobRef
from jobrelay.runtime import INPUTS_ENV, OUTPUTS_ENV, RECORD_FORMAT, RECORDS_DIR

__all__ = [
    "COLLECTED_FILE",
    "check_record",
    "collect_outputs",
    "input_refs",
    "outputs_dir",
    "pin_input",
    "prepare_inputs",
    "record_inputs_consumed",
]

# Starts with "." so it can never be mistaken for an output record (names cannot).
COLLECTED_FILE = ".collected.json"


async def prepare_inputs(
    inputs: Mapping[str, ArtifactRef | str], store: ArtifactStore, workdir: Path
) -> dict[str, str]:
    """Resolve and materialize a job's inputs; return the env vars to start the job with.

    ``inputs`` maps the name the job asks for (``runtime.input_path("data")``) to an
    ``ArtifactRef``, a reference in ``store`` (``"dataset:latest"``, ``"dataset:v3"``) or
    an artifact URI. Each is pinned to an exact version; one held in another store is
    staged into ``store`` first (once per digest). The job's path is
    ``workdir/inputs/<name>/<file name>``: the name the file or folder was stored under
    (``data.csv``), so a loader that picks a format by suffix works. A file the job can read
    in place (the local store's verified blob) is linked there, not copied; anything else
    is fetched there, verified. ``workdir/outputs`` is created for the job's outputs.

    Returns ``{"JOBRELAY_INPUTS": <JSON>, "JOBRELAY_OUTPUTS": <folder>}``. Raises
    ``ArtifactNotFound``, ``IntegrityError`` or ``ArtifactError``.
    """
    workdir, outputs = await run_blocking(_make_workdir, Path(workdir))
    entries: dict[str, dict[str, Any]] = {}
    for name, item in inputs.items():
        check_name(name)
        ref = await pin_input(item, store, store)
        path = await _materialize(ref, store, workdir / "inputs" / name, name)
        entries[name] = {"path": str(path), "ref": ref_to_json(ref)}
    return {INPUTS_ENV: json.dumps(entries, sort_keys=True), OUTPUTS_ENV: str(outputs)}


def _make_workdir(workdir: Path) -> tuple[Path, Path]:
    workdir = workdir.absolute()
    outputs = workdir / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    return workdir, outputs


async def pin_input(
    item: ArtifactRef | str, home: ArtifactStore, target: ArtifactStore
) -> ArtifactRef:
    """The exact version an input names, held in ``target`` (the store its job reads).

    A bare reference (``"dataset:latest"``) is resolved in ``home``, the client's store; a
    URI or ``ArtifactRef`` in its own store. A version not in ``target`` is staged there
    (once per digest). An ``ArtifactRef`` whose digest no longer matches is refused.
    """
    uri = item.uri if isinstance(item, ArtifactRef) else item
    if "#" not in uri:
        ref = await home.resolve(uri)
        return ref if home is target else await stage(ref, home, target)
    source_url, reference = split_artifact_uri(uri)
    if source_url not in (home.url, target.url):
        return await stage(item, source_url, target)
    source = target if source_url == target.url else home
    pinned = await source.resolve(
        item.qualified_name if isinstance(item, ArtifactRef) else reference
    )
    if isinstance(item, ArtifactRef) and pinned.digest != item.digest:
        raise ArtifactError(
            f"{item.qualified_name} in {source.url} has digest {pinned.digest}, "
            f"not {item.digest} as the reference says"
        )
    return pinned if source is target else await stage(pinned, source, target)


async def _materialize(ref: ArtifactRef, store: ArtifactStore, folder: Path, name: str) -> Path:
    dest = folder / local_file_name(ref, name)
    await run_blocking(remove_quietly, folder)  # a retried job gets a fresh, verified copy
    if isinstance(store, SupportsLocalBlobs):
        in_place = await store.verified_local_path(ref)
        if in_place is not None:
            return await run_blocking(_link, in_place, dest)
    return await store.fetch(ref, dest)


def _link(blob: Path, dest: Path) -> Path:
    """``dest`` names the verified ``blob`` without copying it: a hard link (the job sees a
    plain file), or a symbolic link where the two are on different filesystems."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(blob, dest)
    except OSError:
        os.symlink(blob, dest)
    return dest


def input_refs(env: Mapping[str, str]) -> dict[str, ArtifactRef]:
    """The exact input versions recorded in the env ``prepare_inputs`` returned."""
    raw = env.get(INPUTS_ENV)
    if not raw:
        return {}
    return {
        name: ArtifactRef.model_validate(entry["ref"]) for name, entry in json.loads(raw).items()
    }


def outputs_dir(env: Mapping[str, str]) -> Path:
    """The outputs folder named in the env ``prepare_inputs`` returned."""
    try:
        return Path(env[OUTPUTS_ENV])
    except KeyError:
        raise ArtifactError(f"no {OUTPUTS_ENV} in the job env; call prepare_inputs") from None


async def record_inputs_consumed(
    env: Mapping[str, str], store: ArtifactStore, consumer: JobRef
) -> dict[str, ArtifactRef]:
    """Record ``consumer`` as a consumer of every input in ``env``; return those inputs.

    Safe to call again (a consumer is recorded once).
    """
    refs = input_refs(env)
    for ref in refs.values():
        await store.record_consumer(ref, consumer)
    return refs


async def collect_outputs(
    outputs_dir: Path, store: ArtifactStore, producer: JobRef
) -> dict[str, ArtifactRef]:
    """Store every output the job recorded with ``runtime.log_output``; return their refs.

    Each output becomes a version in ``store`` with ``producer`` as its producer. The
    result is saved as ``.collected.json`` in ``outputs_dir``, so calling again (a retried
    task, a restarted client) returns the same refs without reading the outputs again, even
    after the job's files are gone. A missing ``outputs_dir`` means no outputs.

    Raises ``ArtifactError`` for a malformed record or an output whose path is missing.
    """
    collected = Path(outputs_dir) / COLLECTED_FILE
    saved = await run_blocking(_read_collected, collected)
    if saved is not None:
        return saved
    refs: dict[str, ArtifactRef] = {}
    for record in await run_blocking(_read_records, Path(outputs_dir) / RECORDS_DIR):
        refs[record["name"]] = await store.put(
            record["name"],
            Path(record["path"]),
            type=record["type"],
            metadata=record["metadata"],
            aliases=record["aliases"],
            producer=producer,
        )
    body = {name: ref_to_json(ref) for name, ref in refs.items()}
    await run_blocking(_save_collected, collected, json.dumps(body, sort_keys=True).encode())
    return refs


def _save_collected(collected: Path, data: bytes) -> None:
    if collected.parent.is_dir():  # no outputs folder: the job made none, nothing to save
        write_atomic(collected, data)


def _read_collected(collected: Path) -> dict[str, ArtifactRef] | None:
    try:
        saved = json.loads(collected.read_bytes())
    except FileNotFoundError:
        return None
    return {name: ArtifactRef.model_validate(ref) for name, ref in saved.items()}


def check_record(record: Any, filename: str) -> dict[str, Any]:
    """An output record as ``jobrelay.runtime`` writes it, checked; ``ValueError`` if not one.

    ``filename`` is the record's file name, which must be ``<name>.json``.
    """
    if not isinstance(record, dict):
        raise ValueError("is not a JSON object")
    if record.get("format") != RECORD_FORMAT:
        raise ValueError(f"unknown format {record.get('format')!r}")
    try:
        name = check_name(record["name"])
        record["aliases"] = [check_alias(alias) for alias in record.get("aliases", [])]
        record["metadata"] = dict(record.get("metadata") or {})
    except (ArtifactError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from None
    if filename != f"{name}.json":
        raise ValueError(f"names output {name!r}")
    record["type"] = str(record.get("type") or "file")
    if not isinstance(record.get("path"), str):
        raise ValueError("has no path")
    return record


def _read_records(folder: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = check_record(json.loads(path.read_bytes()), path.name)
        except ValueError as exc:
            raise ArtifactError(f"output record {path} is malformed: {exc}") from None
        target = Path(record["path"])
        if not target.is_absolute() or not target.exists():
            raise ArtifactError(
                f"output {record['name']!r} points at {target}, which does not exist; the job "
                "must keep its output files until the client collects them"
            )
        records.append(record)
    return records
