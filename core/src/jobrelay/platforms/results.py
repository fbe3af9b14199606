"""Result files: what a platform whose jobs leave files behind reports of a succeeded job.

A platform with them (Fused) lists a job's files and where their bytes are
(:meth:`ResultFiles.results`) and reads one without its credential
(:meth:`ResultFiles.read_result`). It stores nothing: the client's handoff
(:class:`jobrelay._handoff.NativeHandoff`) puts each file in the platform's artifact store as
one of the job's outputs, once, the way it collects every other platform's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from jobrelay.models import JobRef

__all__ = ["NOTE_CHARS", "ResultFile", "ResultFiles"]

NOTE_CHARS = 4000
"""How much of a note (``ResultFile.notes``) is kept in the version's metadata."""


@dataclass(frozen=True)
class ResultFile:
    """One file a succeeded job left on its platform.

    ``name`` is the output's name (the file's name there, ``0.json``); ``artifact`` the
    artifact name it is stored under; ``url`` where its bytes are (a signed URL); ``metadata``
    goes with the stored version as it is; ``notes`` maps a metadata key to the URL of a
    small text (a sidecar) whose first :data:`NOTE_CHARS` characters go under that key.
    """

    name: str
    artifact: str
    url: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class ResultFiles(Protocol):
    """The optional platform members that report a succeeded job's result files."""

    async def results(self, ref: JobRef) -> Sequence[ResultFile]:
        """The files the succeeded job left (one listing; no bytes are read)."""
        ...

    async def read_result(self, url: str, name: str) -> bytes:
        """The bytes at a result's ``url`` (``name`` says which, in errors)."""
        ...
