"""Artifact handoff: versioned, verified artifacts passed from one job to the next.

* :class:`ArtifactStore` — the protocol; :class:`LocalArtifactStore` (the local platform's
  store) and :class:`FsspecArtifactStore` (``file://``, ``memory://``, ``s3://``...).
* :func:`open_store` — a store from its URL, through one registry of schemes (``local://``,
  a folder, ``wandb://``, the fsspec schemes; :func:`register_store` adds one);
  :func:`stage` — copy a version between stores.
* :func:`earlier_producer` — the job that first stored an output's bytes, when a job's
  output is a version an earlier job made (identical bytes are one version).
* :func:`prepare_inputs`, :func:`record_inputs_consumed`, :func:`collect_outputs` — what
  the client runs around a job; the job side is :mod:`jobrelay.runtime`.
"""

from jobrelay.artifacts.base import (
    ArtifactStore,
    Lineage,
    Reference,
    SupportsLocalBlobs,
    check_alias,
    check_name,
    check_relative_path,
    earlier_producer,
    parse_reference,
    split_artifact_uri,
)
from jobrelay.artifacts.fsspec_store import FsspecArtifactStore
from jobrelay.artifacts.handoff import (
    collect_outputs,
    input_refs,
    outputs_dir,
    prepare_inputs,
    record_inputs_consumed,
)
from jobrelay.artifacts.local import LocalArtifactStore
from jobrelay.artifacts.registry import known_store_schemes, open_store, register_store
from jobrelay.artifacts.staging import ARTIFACTS_ENV, resolve_store_url, stage

__all__ = [
    "ARTIFACTS_ENV",
    "ArtifactStore",
    "FsspecArtifactStore",
    "Lineage",
    "LocalArtifactStore",
    "Reference",
    "SupportsLocalBlobs",
    "check_alias",
    "check_name",
    "check_relative_path",
    "collect_outputs",
    "earlier_producer",
    "input_refs",
    "known_store_schemes",
    "open_store",
    "outputs_dir",
    "parse_reference",
    "prepare_inputs",
    "record_inputs_consumed",
    "register_store",
    "resolve_store_url",
    "split_artifact_uri",
    "stage",
]
