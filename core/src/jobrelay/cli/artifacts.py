"""``jobrelay artifacts``: put, get, list and show artifact versions; digest local paths.

Every command but ``digest`` takes ``--store URL``; without it the store is
``$JOBRELAY_ARTIFACTS``, else the local platform's store (``<JOBRELAY_HOME>/artifacts``).
Errors print one line and exit with 2 (bad name, missing artifact, corrupt bytes, bad
store URL).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jobrelay.artifacts.base import ArtifactStore, parse_reference
from jobrelay.artifacts.digests import short_digest
from jobrelay.artifacts.manifest import digest_path
from jobrelay.artifacts.registry import opened_store
from jobrelay.artifacts.staging import resolve_store_url
from jobrelay.cli.exits import fail, run
from jobrelay.errors import ArtifactError
from jobrelay.models import ArtifactRef, JobRef

__all__ = ["app"]

app = typer.Typer(
    name="artifacts",
    help="Put, get, list and show artifacts; compute digests.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # help as written: '[default: ...]' is no markup
)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL: a folder, local:///HOME, file://, s3://..., "
        "wandb://ENTITY/PROJECT?host=URL (key from $WANDB_API_KEY) "
        "[default: $JOBRELAY_ARTIFACTS, else the local platform's store]",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _store(url: str | None) -> contextlib.AbstractAsyncContextManager[ArtifactStore]:
    return opened_store(resolve_store_url(url))


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _job(job: JobRef | None) -> str:
    return str(job) if job else "-"


@app.command()
def put(
    name: Annotated[str, typer.Argument(help="Artifact name, e.g. dataset.")],
    path: Annotated[Path, typer.Argument(help="File or folder to store.")],
    type: Annotated[
        str, typer.Option("--type", help="Artifact type (a folder's default is 'dir').")
    ] = "file",
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="Alias for the version (repeatable).")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object stored with the version.")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store PATH as the next version of NAME (the same bytes again give the same version)."""
    meta = _parse_metadata(metadata)

    async def go() -> ArtifactRef:
        async with _store(store) as artifacts:
            return await artifacts.put(name, path, type=type, metadata=meta, aliases=alias or ())

    ref = run(go())
    if as_json:
        _echo_json(ref.model_dump(mode="json"))
    else:
        typer.echo(f"{ref.qualified_name}  {ref.digest}  {_size(ref.size)}  {ref.uri}")


def _parse_metadata(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        fail(ArtifactError("--metadata must be a JSON object, e.g. '{\"rows\": 10}'"))
    return dict(value)


@app.command()
def get(
    reference: Annotated[str, typer.Argument(help="NAME, NAME:vN, NAME:latest or NAME:ALIAS.")],
    dest: Annotated[Path, typer.Argument(help="Where to write it (into it, if a folder).")],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch a version to DEST, verified against its digest."""

    into_folder = dest.is_dir()

    async def go() -> tuple[ArtifactRef, Path]:
        async with _store(store) as artifacts:
            ref = await artifacts.resolve(reference)
            return ref, await artifacts.fetch(ref, dest / ref.name if into_folder else dest)

    ref, written = run(go())
    if as_json:
        _echo_json({"ref": ref.model_dump(mode="json"), "path": str(written)})
    else:
        typer.echo(f"{ref.qualified_name} -> {written}")


@app.command("ls")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only versions of this artifact.")] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """List artifact versions, oldest first per name."""

    async def go() -> list[ArtifactRef]:
        if name is not None:
            parse_reference(name)  # a bad name is a one-line error, not an empty list
        async with _store(store) as artifacts:
            return await artifacts.list(name)

    refs = run(go())
    if as_json:
        _echo_json([ref.model_dump(mode="json") for ref in refs])
        return
    if not refs:
        typer.echo("no artifacts" if name is None else f"no versions of {name!r}")
        return
    width = max(len(ref.qualified_name) for ref in refs)
    for ref in refs:
        typer.echo(
            f"{ref.qualified_name:<{width}}  {ref.type:<6}  {_size(ref.size):>10}  "
            f"{short_digest(ref.digest)}  {_job(ref.producer)}"
        )


@app.command()
def show(
    reference: Annotated[str, typer.Argument(help="NAME, NAME:vN, NAME:latest or NAME:ALIAS.")],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one version: digest, size, URI, producer and consumer jobs."""

    async def go() -> tuple[ArtifactRef, list[JobRef]]:
        async with _store(store) as artifacts:
            ref = await artifacts.resolve(reference)
            lineage = await artifacts.lineage(ref)
            return ref, lineage.consumers

    ref, consumers = run(go())
    if as_json:
        body = ref.model_dump(mode="json")
        body["consumers"] = [job.model_dump(mode="json") for job in consumers]
        _echo_json(body)
        return
    rows = [
        ("artifact", ref.qualified_name),
        ("type", ref.type),
        ("digest", ref.digest),
        ("size", f"{ref.size} bytes ({_size(ref.size)})"),
        ("uri", ref.uri),
        ("producer", _job(ref.producer)),
        ("consumers", ", ".join(str(job) for job in consumers) or "-"),
    ]
    rows += [(f"metadata.{key}", json.dumps(value)) for key, value in sorted(ref.metadata.items())]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label + ':':<{width + 1}} {value}")


@app.command()
def digest(
    path: Annotated[Path, typer.Argument(help="File or folder.")],
    as_json: JsonOption = False,
) -> None:
    """Print the digest and size a put of PATH would record, to compare with a version's."""
    try:
        got, size = digest_path(path)
    except ArtifactError as exc:
        fail(exc)
    if as_json:
        _echo_json({"digest": got, "size": size, "path": str(path)})
    else:
        typer.echo(f"{got}  {size}  {path}")
