"""``jobrelay`` commands: submit, status, wait, logs, cancel, ls, agent, queue, demo."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from jobrelay._cancelling import cancel_job, cancels_the_job
from jobrelay._checks import check_wait_options
from jobrelay.cli import artifacts, emulators, render
from jobrelay.cli.demo import demo_summary
from jobrelay.cli.exits import (
    FAILED,
    INTERRUPTED,
    SUCCEEDED,
    err_console,
    exit_codes_text,
    fail,
    run,
)
from jobrelay.client import AsyncClient, check_limit
from jobrelay.errors import ConfigError, JobRelayError, NotFoundError
from jobrelay.models import MAX_PRIORITY, JobRef, JobResult, JobSpec, JobStatus
from jobrelay.platforms.base import QueueAdmin
from jobrelay.urls import resolve_platform_url
from jobrelay.waiting import WaitLimits

# Help is plain text (click's formatter), not rich markup: '[default: ...]' and
# "pip install 'jobrelay[emulators]'" print as written, and flags show without a type.
app = typer.Typer(
    name="jobrelay",
    help="Submit, queue, wait on, follow and cancel jobs on remote platforms.",
    epilog=exit_codes_text() + ".",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
queue_app = typer.Typer(
    help="Create and list named queues.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(queue_app, name="queue")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"jobrelay {version('jobrelay')}")
        raise typer.Exit(SUCCEEDED)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed jobrelay version and exit.",
        ),
    ] = False,
) -> None:
    """Submit, queue, wait on, follow and cancel jobs on remote platforms."""


PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        "-p",
        envvar="JOBRELAY_PLATFORM",
        help="Platform URL, e.g. local:// or ray://127.0.0.1:8265 [default: local://]",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
QueueTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS",
        help="Seconds the job may wait queued or starting; then the wait cancels it.",
    ),
]
RunTimeoutOpt = Annotated[
    float | None,
    typer.Option(metavar="SECONDS", help="Seconds the job may run; then the wait cancels it."),
]
QueueOpt = Annotated[
    str | None,
    typer.Option(
        "--queue", "-q", help="Queue name (see `jobrelay queue ls`) [default: the platform's]."
    ),
]
OWNER_SEARCH = 1000  # the most recent jobs ``ls --owner`` looks through


def _client(platform: str | None) -> AsyncClient:
    return AsyncClient(resolve_platform_url(platform))


async def _ref(client: AsyncClient, job_id: str) -> JobRef:
    return JobRef(platform=(await client.platform()).url, id=job_id)


def _print_json(value: Any) -> None:
    render.console.print_json(json.dumps(value, default=str))


def _split_pair(pair: str, *, field: str, shape: str) -> tuple[str, str]:
    """``pair`` split at its first ``=``: ``ConfigError(field=field)`` when it has no ``=``
    or no name before it (then the value, perhaps a secret, is not repeated)."""
    name, sep, value = pair.partition("=")
    if not sep:
        raise ConfigError(f"expected {shape}, got {pair[:60]!r}", field=field)
    if not name:
        raise ConfigError(f"expected {shape}, got a value without a name", field=field)
    return name, value


def _parse_env(pairs: list[str]) -> dict[str, str]:
    return dict(_split_pair(pair, field="env", shape="NAME=VALUE") for pair in pairs)


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON a platform accepts: such a VALUE stays text.
    raise ValueError(name)


def job_config(pairs: list[str], path: Path | None) -> dict[str, Any]:
    """A job's ``config`` from ``--config-file`` (a JSON object) and ``--config KEY=VALUE``
    pairs, which override the file's keys. A VALUE that parses as JSON is that value
    (``3``, ``true``, ``["a"]``); anything else is the text itself.

    Raises ``ConfigError(field="config")`` for a pair without ``=`` or a file that is not
    a JSON object.
    """
    config: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"cannot read {str(path)!r} as JSON: {exc}", field="config") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{str(path)!r} must hold a JSON object", field="config")
        config.update(loaded)
    for pair in pairs:
        key, text = _split_pair(pair, field="config", shape="KEY=VALUE")
        try:
            config[key] = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            config[key] = text
    return config


@app.command()
def submit(
    entrypoint: Annotated[
        list[str],
        typer.Argument(
            metavar="COMMAND",
            help="One argument is a shell command; several are an argv list (use -- before it).",
        ),
    ],
    platform: PlatformOpt = None,
    name: Annotated[str | None, typer.Option(help="A name for the job.")] = None,
    queue: QueueOpt = None,
    priority: Annotated[
        int,
        typer.Option(
            help=f"-{MAX_PRIORITY}..{MAX_PRIORITY}; higher runs first in a PRIORITY queue."
        ),
    ] = 0,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", "-e", metavar="NAME=VALUE", help="An environment variable; repeatable."
        ),
    ] = None,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            metavar="KEY=VALUE",
            help="A platform setting of the job (e.g. code=... for Fused, job=... for W&B); "
            "VALUE is read as JSON when it is valid JSON, else as text; repeatable, and "
            "overrides --config-file.",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config-file",
            metavar="PATH",
            help="A JSON object of the job's platform settings.",
        ),
    ] = None,
    cwd: Annotated[Path | None, typer.Option(help="Working directory of the job.")] = None,
    attempt_timeout: Annotated[
        float | None,
        typer.Option(
            "--attempt-timeout",
            metavar="SECONDS",
            help="Seconds each attempt may run on the platform before it is stopped "
            "(not a limit on --wait: see --run-timeout).",
        ),
    ] = None,
    retries: Annotated[int, typer.Option(help="Re-run a failed attempt this many times.")] = 0,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: resubmitting reattaches.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for the job to finish.")] = False,
    detach: Annotated[
        bool, typer.Option(help="With --wait: Ctrl-C leaves the job running.")
    ] = False,
    queue_timeout: QueueTimeoutOpt = None,
    run_timeout: RunTimeoutOpt = None,
    logs: Annotated[bool, typer.Option(help="With --wait: print the job's log lines.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Submit a job; with --wait, follow it to the end (Ctrl-C cancels it unless --detach)."""
    run(
        _submit(
            platform,
            dict(
                entrypoint=entrypoint[0] if len(entrypoint) == 1 else entrypoint,
                name=name,
                queue=queue,
                priority=priority,
                env=env or [],
                config=(config or [], config_file),
                working_dir=str(cwd.resolve()) if cwd else None,
                timeout_s=attempt_timeout,
                max_retries=retries,
                idempotency_key=key,
            ),
            wait=wait,
            detach=detach,
            queue_timeout=queue_timeout,
            run_timeout=run_timeout,
            logs=logs,
            as_json=as_json,
        )
    )


async def _submit(
    platform: str | None,
    fields: dict[str, Any],
    *,
    wait: bool,
    detach: bool,
    queue_timeout: float | None,
    run_timeout: float | None,
    logs: bool,
    as_json: bool,
) -> None:
    # Everything is checked before anything is sent: no job is left queued by a bad limit.
    config = job_config(*fields["config"])
    spec = JobSpec(**{**fields, "env": _parse_env(fields["env"]), "config": config})
    check_wait_options({"queue_timeout": queue_timeout, "run_timeout": run_timeout})
    if not wait:  # a limit nothing waits on would be silently ignored
        for field, value in (("queue_timeout", queue_timeout), ("run_timeout", run_timeout)):
            if value is not None:
                raise ConfigError("limits a wait: add --wait, or leave it out", field=field)
    async with _client(platform) as client:
        ref = await client.submit(spec)
        verb = "reattached to" if ref.reattached else "submitted"
        if not wait:
            if as_json:
                _print_json(ref.model_dump(mode="json"))
            else:
                render.console.print(Text.assemble(f"{verb} job ", (ref.id, "bold")))
            return
        err_console.print(f"{verb} job {ref.id}")
        try:
            result = await _watch(
                client,
                ref,
                spec.display_name,
                queue_timeout=queue_timeout,
                run_timeout=run_timeout,
                logs=logs,
                as_json=as_json,
            )
        except BaseException as exc:
            # Every way out but the job's own end cancels it (unless --detach): Ctrl-C, an
            # error reading it. The cancel is answered before the client closes.
            interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
            if detach or not cancels_the_job(exc):
                if detach and interrupted:
                    err_console.print(f"detached; job {ref.id} keeps running")
                    raise typer.Exit(INTERRUPTED) from None
                raise
            why = "interrupted" if interrupted else f"the wait failed ({type(exc).__name__})"
            if await cancel_job(client.cancel, ref, why=why, exiting=exc):
                err_console.print(f"cancelled job {ref.id}")
            if interrupted:
                raise typer.Exit(FAILED) from None
            raise
        _finish(result, as_json)


async def _watch(
    client: AsyncClient,
    ref: JobRef,
    name: str,
    *,
    queue_timeout: float | None,
    run_timeout: float | None,
    logs: bool,
    as_json: bool,
    timeout: float | None = None,
) -> JobResult:
    """Wait with live progress; with --json the progress goes to stderr so stdout stays JSON."""
    first = await client.status(ref)
    line = render.JobLine(
        name=name, ref=ref, state=first.state, position=first.queue_position, history=[first.state]
    )
    out = err_console if as_json else render.console
    with render.LiveJobs([line], out=out) as live:
        out.print(Text.assemble(f"{name}: ", render.state_text(first.state)))
        return await client.wait(
            ref,
            queue_timeout=queue_timeout,
            run_timeout=run_timeout,
            timeout=timeout,
            on_update=live.update,
            follow_logs=logs,
        )


def _finish(result: JobResult, as_json: bool) -> None:
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        s = result.status
        render.console.print(
            f"job {result.ref.id} {s.state.value}"
            + (f" in {s.run_s:.2f}s" if s.run_s is not None else "")
            + (f" (queued {s.queued_s:.2f}s)" if s.queued_s is not None else "")
        )
    raise typer.Exit(SUCCEEDED if result.state.is_success else FAILED)


@app.command()
def status(job_id: str, platform: PlatformOpt = None, as_json: JsonOpt = False) -> None:
    """Show a job's status."""

    async def go() -> JobStatus:
        async with _client(platform) as client:  # a succeeded job comes with its outputs
            return (await client.result(await _ref(client, job_id))).status

    result = run(go())
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        render.console.print(render.status_detail(result))


@app.command("wait")
def wait_cmd(
    job_id: str,
    platform: PlatformOpt = None,
    queue_timeout: QueueTimeoutOpt = None,
    run_timeout: RunTimeoutOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Seconds this wait may take in all, queue and run together; the job is "
            "cancelled when it is exceeded.",
        ),
    ] = None,
    logs: Annotated[bool, typer.Option(help="Print the job's log lines.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Wait for a job to finish; exit 0 if it succeeded."""

    async def go() -> JobResult:
        WaitLimits(queue_timeout, run_timeout, timeout)  # checked before any call
        async with _client(platform) as client:
            ref = await _ref(client, job_id)
            return await _watch(
                client,
                ref,
                job_id,
                queue_timeout=queue_timeout,
                run_timeout=run_timeout,
                logs=logs,
                as_json=as_json,
                timeout=timeout,
            )

    _finish(run(go()), as_json)


@app.command()
def logs(
    job_id: str,
    platform: PlatformOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it ends.")
    ] = False,
    cursor: Annotated[str | None, typer.Option(help="Resume after this cursor.")] = None,
) -> None:
    """Print a job's log."""

    async def go() -> None:
        async with _client(platform) as client:
            ref = await _ref(client, job_id)
            pages = client.follow_logs(ref, cursor) if follow else client.read_logs(ref, cursor)
            async for page in pages:
                for line in page.lines:
                    render.write_job_line(line)
                sys.stdout.flush()

    run(go())


@app.command()
def cancel(job_id: str, platform: PlatformOpt = None) -> None:
    """Cancel a job (a no-op if it already finished)."""

    async def go() -> JobStatus:
        async with _client(platform) as client:
            ref = await _ref(client, job_id)
            await client.cancel(ref)
            return await client.status(ref)

    result = run(go())
    render.console.print(f"job {job_id}: cancel requested (now {result.state.value})")


@app.command("ls")
def list_cmd(
    platform: PlatformOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many jobs.")] = 20,
    queue: QueueOpt = None,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="Only jobs whose owner starts with this text (e.g. 'airflow:' or "
            f"'dagster:INSTALLATION:RUN_ID'), among the {OWNER_SEARCH} most recent.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recent jobs, newest first, with the orchestrator run that owns each."""

    async def go() -> list[JobStatus]:
        check_limit(limit)  # before the platform is opened
        async with _client(platform) as client:
            if queue is not None:
                await _check_queue(client, queue)
            if owner is None:
                return list(await client.list_jobs(limit=limit, queue=queue))
            found = await client.list_jobs(limit=max(limit, OWNER_SEARCH), queue=queue)
            return [s for s in found if (s.owner or "").startswith(owner)][:limit]

    jobs = run(go())
    if as_json:
        _print_json([s.model_dump(mode="json") for s in jobs])
    else:
        render.console.print(render.status_table(jobs))


async def _check_queue(client: AsyncClient, queue: str) -> None:
    """Raise ``NotFoundError`` (exit 5, as ``submit --queue`` to it) when the platform has
    named queues and none is called ``queue``: an empty table would read as 'no jobs'."""
    if not isinstance(await client.platform(), QueueAdmin):
        return  # the platform's list_jobs says what a queue means there (Ray: none)
    known = sorted(q.name for q in await client.list_queues())
    if queue not in known:
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        raise NotFoundError(f"queue {queue!r} does not exist; its queues: {shown or 'none'}")


@app.command()
def agent(
    home: Annotated[
        Path | None, typer.Option(help="Local platform home [default: $JOBRELAY_HOME].")
    ] = None,
    idle_timeout: Annotated[
        float | None,
        typer.Option(help="Exit after this many idle seconds [default: run until stopped]."),
    ] = None,
) -> None:
    """Run a local-platform agent in the foreground: it claims and runs queued jobs."""
    from jobrelay.platforms.local.agent import run_agent
    from jobrelay.urls import default_local_home

    try:
        run_agent((home or default_local_home()).expanduser().resolve(), idle_timeout=idle_timeout)
    except JobRelayError as exc:
        fail(exc)
    except KeyboardInterrupt:
        raise typer.Exit(SUCCEEDED) from None


@queue_app.command("create")
def queue_create(
    name: str,
    platform: PlatformOpt = None,
    max_concurrency: Annotated[
        int, typer.Option("--max-concurrency", "-c", help="How many of its jobs run at once.")
    ] = 1,
    mode: Annotated[str, typer.Option(help="FIFO, LIFO or PRIORITY.")] = "FIFO",
) -> None:
    """Create a queue, or update its concurrency and mode."""

    async def go() -> None:
        async with _client(platform) as client:
            info = await client.create_queue(name, max_concurrency=max_concurrency, mode=mode)
            render.console.print(
                f"queue {info.name}: max_concurrency={info.max_concurrency} mode={info.mode.value}"
            )

    run(go())


@queue_app.command("ls")
def queue_ls(platform: PlatformOpt = None, as_json: JsonOpt = False) -> None:
    """List queues with their queued and running counts."""

    async def go() -> list[Any]:
        async with _client(platform) as client:
            return list(await client.list_queues())

    queues = run(go())
    if as_json:
        _print_json([q.model_dump(mode="json") for q in queues])
        return
    table = Table(box=None, header_style="bold")
    for column in ("queue", "mode", "max concurrency", "queued", "running"):
        table.add_column(column)
    for q in queues:
        table.add_row(q.name, q.mode.value, str(q.max_concurrency), str(q.queued), str(q.running))
    render.console.print(table)


@app.command(help=demo_summary())
def demo(
    home: Annotated[
        Path | None, typer.Option(help="Local platform home [default: $JOBRELAY_HOME].")
    ] = None,
) -> None:
    from jobrelay.cli.demo import run_demo

    ok = run(run_demo(home))
    raise typer.Exit(SUCCEEDED if ok else FAILED)


app.add_typer(artifacts.app, name="artifacts", help="Put, get, list and show artifacts.")
app.add_typer(emulators.app, name="emulator", help="Serve platform emulators on loopback.")


def main() -> None:
    app()
