"""The artifact store contract, references and the name rules every store shares.

An artifact is a named series of immutable versions (``v1``, ``v2``, ...). A *reference*
names one of them: ``name:v3`` (exact), ``name:latest`` or bare ``name`` (the newest), or
``name:ALIAS`` (whatever version the alias points at). Each version is returned as an
:class:`~jobrelay.models.ArtifactRef` whose ``uri`` is ``<store url>#<name>:<version>``:
open the store at the part before ``#`` and resolve the part after it.

Names, aliases and the relative paths inside a folder artifact are checked here, once, so no
store can be made to write outside its root: a bad one is an :class:`ArtifactError` that says
what is wrong with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from jobrelay.errors import ArtifactError
from jobrelay.models import ArtifactRef, JobRef

__all__ = [
    "FILE_TYPE",
    "FOLDER_TYPE",
    "LATEST",
    "ArtifactStore",
    "Lineage",
    "Reference",
    "SupportsLocalBlobs",
    "artifact_uri",
    "check_alias",
    "check_name",
    "check_relative_path",
    "earlier_producer",
    "local_file_name",
    "parse_reference",
    "ref_to_json",
    "reference_for",
    "split_artifact_uri",
    "stored_file_name",
]

LATEST = "latest"
FILE_TYPE = "file"
FOLDER_TYPE = "dir"

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^v(0|[1-9][0-9]*)$")  # W&B counts from v0, jobrelay stores from v1
_MAX_NAME = 128
_MAX_FILE_NAME = 255  # one path component on Linux and macOS


class Reference(NamedTuple):
    """A parsed reference: ``name`` and one of an exact ``version`` or an ``alias``."""

    name: str
    version: int | None
    alias: str | None

    def __str__(self) -> str:
        return f"{self.name}:{f'v{self.version}' if self.version else self.alias}"


class Lineage(BaseModel):
    """Who made an artifact version and who read it."""

    model_config = ConfigDict(frozen=True)

    artifact: ArtifactRef
    producer: JobRef | None = None
    consumers: list[JobRef] = Field(default_factory=list)


def earlier_producer(output: ArtifactRef, job: JobRef) -> JobRef | None:
    """The job that first stored these bytes, when ``output`` (an output of ``job``) was
    already in the store: else None.

    A store keeps one version per content: a job that logs bytes identical to a version
    of the same name (a rerun of a pipeline in the same jobrelay home) gets that version
    back, and its producer stays the job that stored it first. Lineage shown for ``job``'s
    outputs should say so ("same bytes as ..."), not name the earlier job as if it ran now.

    >>> earlier_producer(result.outputs["model"], result.ref)         # doctest: +SKIP
    JobRef(platform='local://', id='job-1')
    """
    if output.producer is None or output.producer == job:
        return None
    return output.producer


def _check_token(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ArtifactError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ArtifactError(f"{what} must not be empty")
    if "\0" in value:
        raise ArtifactError(f"{what} {value!r} must not contain a NUL character")
    if "/" in value or "\\" in value:
        raise ArtifactError(f"{what} {value!r} must not contain a path separator ('/' or '\\')")
    if value in (".", ".."):
        raise ArtifactError(f"{what} {value!r} must not be '.' or '..'")
    if ":" in value or "#" in value:
        raise ArtifactError(f"{what} {value!r} must not contain ':' or '#' (they delimit refs)")
    if len(value) > _MAX_NAME:
        raise ArtifactError(f"{what} {value[:20]!r}... is longer than {_MAX_NAME} characters")
    if not _NAME.match(value):
        raise ArtifactError(
            f"{what} {value!r} may only hold letters, digits, '.', '_' and '-', "
            "and must not start with '.' or '-'"
        )
    return value


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid artifact name, else raise ``ArtifactError``.

    >>> check_name("dataset")
    'dataset'
    """
    return _check_token(name, "artifact name")


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias (not a version such as ``v3``)."""
    value = _check_token(alias, "alias")
    if re.match(r"^v[0-9]+$", value):
        raise ArtifactError(f"alias {value!r} looks like a version; pick another alias")
    return value


_TYPE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class PutArgs:
    """The checked arguments of ``ArtifactStore.put``: every store checks them the same way."""

    name: str
    type: str
    metadata: dict[str, Any]
    aliases: tuple[str, ...]


def check_put(name: object, type: object, metadata: object, aliases: object) -> PutArgs:
    """``ArtifactError`` naming what is wrong, before a store touches anything.

    ``aliases`` is a list of names (a lone string is refused, not split into letters);
    ``metadata`` a mapping of JSON values (no NaN, no objects); ``type`` a short label.
    """
    checked_name = check_name(name)
    if not isinstance(type, str) or not _TYPE.match(type):
        raise ArtifactError(
            f"artifact type {type!r} is invalid: use 1-64 letters, digits, '.', '_' or '-' "
            "(e.g. 'model', 'dataset')"
        )
    if isinstance(aliases, str | bytes) or not isinstance(aliases, list | tuple | set | frozenset):
        raise ArtifactError(
            f"aliases must be a list of names, e.g. [{aliases!r}], not {builtins_type(aliases)}"
        )
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ArtifactError(
            f"metadata must be a mapping of JSON values, not {builtins_type(metadata)}"
        )
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"metadata is not JSON: {exc}") from None
    if any(not isinstance(key, str) for key in metadata):
        raise ArtifactError("metadata keys must be strings")
    return PutArgs(
        checked_name, type, dict(metadata), tuple(dict.fromkeys(check_alias(a) for a in aliases))
    )


def builtins_type(value: object) -> str:
    """``a str`` / ``a list`` ...: a value's type, named for a message."""
    return f"a {type(value).__name__}"


def check_reference(reference: object) -> str:
    """``reference`` if it is a string at all (``resolve(1)`` is an ``ArtifactError``)."""
    if not isinstance(reference, str):
        raise ArtifactError(
            f"artifact reference must be a string such as 'model:latest', not "
            f"{builtins_type(reference)}"
        )
    return reference


def check_relative_path(path: object) -> str:
    """Return ``path`` as a normalized POSIX relative path that stays inside its folder.

    Absolute paths, ``..`` components, empty components, backslashes and NUL are refused.
    """
    if not isinstance(path, str) or not path:
        raise ArtifactError(f"relative path must be a non-empty string, got {path!r}")
    if "\0" in path:
        raise ArtifactError(f"relative path {path!r} must not contain a NUL character")
    if "\\" in path:
        raise ArtifactError(f"relative path {path!r} must use '/' separators, not '\\'")
    if path.startswith("/"):
        raise ArtifactError(f"relative path {path!r} must not be absolute")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArtifactError(f"relative path {path!r} must not hold empty, '.' or '..' parts")
    return str(PurePosixPath(*parts))


def stored_file_name(path: Path) -> str | None:
    """The name a put records for ``path`` (``data.csv``); None when it has none."""
    return path.absolute().name or None


def local_file_name(ref: ArtifactRef, fallback: str) -> str:
    """The name a job's local copy of ``ref`` gets: the name it was stored under, when that
    is one safe path component (a ref read from JSON may carry anything), else ``fallback``.
    """
    return safe_file_name(ref.file_name) or fallback


def safe_file_name(name: object) -> str | None:
    """``name`` when it is one safe path component, else ``None``."""
    if not isinstance(name, str) or not name or len(name) > _MAX_FILE_NAME:
        return None
    if name in (".", "..") or any(bad in name for bad in ("/", "\\", "\0")):
        return None
    return name


def parse_reference(reference: str) -> Reference:
    """Split ``name``, ``name:vN`` or ``name:ALIAS``; bare ``name`` means ``name:latest``.

    >>> parse_reference("dataset:v3")
    Reference(name='dataset', version=3, alias=None)
    """
    if not isinstance(reference, str):
        raise ArtifactError(f"artifact reference must be a string, got {reference!r}")
    name, sep, selector = reference.partition(":")
    check_name(name)
    if not sep or selector == LATEST:
        return Reference(name, None, LATEST)
    match = _VERSION.match(selector)
    if match:
        return Reference(name, int(match.group(1)), None)
    return Reference(name, None, check_alias(selector))


def artifact_uri(store_url: str, name: str, version: str) -> str:
    """The canonical URI of one version: ``<store url>#<name>:<version>``."""
    return f"{store_url}#{name}:{version}"


def split_artifact_uri(uri: str) -> tuple[str, str]:
    """Split an artifact URI into ``(store url, reference)``; ``ArtifactError`` if not one."""
    store_url, sep, reference = uri.rpartition("#")
    if not sep or not store_url:
        raise ArtifactError(f"{uri!r} is not an artifact URI (expected STORE_URL#NAME:VERSION)")
    parse_reference(reference)
    return store_url, reference


def reference_for(store_url: str, ref: ArtifactRef | str) -> str:
    """The reference to resolve in the store at ``store_url`` for a ref, URI or reference.

    A URI or ``ArtifactRef`` from another store is an ``ArtifactError``: stage it first.
    """
    if isinstance(ref, ArtifactRef):
        target, reference = split_artifact_uri(ref.uri)
    elif "#" in ref:
        target, reference = split_artifact_uri(ref)
    else:
        return ref
    if target != store_url:
        raise ArtifactError(
            f"artifact {reference} lives in {target}, not in {store_url}; "
            "stage it into this store first (jobrelay.artifacts.stage)"
        )
    return reference


def ref_to_json(ref: ArtifactRef) -> dict[str, Any]:
    """The JSON form of a ref, as it travels through env vars and records."""
    return ref.model_dump(mode="json")


@runtime_checkable
class ArtifactStore(Protocol):
    """Where artifact versions live. Every method is safe to call from an event loop.

    ``url`` is canonical: ``jobrelay.artifacts.open_store(store.url)`` opens the same store.
    """

    url: str

    async def put(
        self,
        name: str,
        path: Path,
        *,
        type: str = FILE_TYPE,
        metadata: dict[str, Any] | None = None,
        aliases: tuple[str, ...] | list[str] = (),
        producer: JobRef | None = None,
    ) -> ArtifactRef:
        """Store the file or folder at ``path`` as the next version of ``name``.

        Identical content under the same name returns the existing version (``latest``
        does not move; the given ``aliases`` are pointed at it). A folder's ``type`` is
        ``"dir"`` unless another is given. Raises ``ArtifactError`` for a bad name or a
        missing path.
        """
        ...

    async def resolve(self, reference: str) -> ArtifactRef:
        """The exact version ``reference`` names; ``ArtifactNotFound`` if none."""
        ...

    async def fetch(self, ref: ArtifactRef | str, dest: Path) -> Path:
        """Copy a version to ``dest`` (a file, or a folder for a folder artifact).

        The bytes are verified against the digest before they appear at ``dest``; on a
        mismatch ``IntegrityError`` is raised and nothing is left at ``dest``.
        """
        ...

    async def list(self, name: str | None = None) -> list[ArtifactRef]:
        """Every version of ``name`` (oldest first), or of every artifact by name."""
        ...

    async def record_consumer(self, ref: ArtifactRef | str, consumer: JobRef) -> None:
        """Remember that ``consumer`` read this version (idempotent)."""
        ...

    async def lineage(self, ref: ArtifactRef | str) -> Lineage:
        """The version's producer and its consumers."""
        ...


@runtime_checkable
class SupportsLocalBlobs(Protocol):
    """A store whose file blobs are plain local files a job on this machine can read."""

    async def verified_local_path(self, ref: ArtifactRef | str) -> Path | None:
        """The verified blob of a file artifact, or ``None`` for a folder artifact."""
        ...
