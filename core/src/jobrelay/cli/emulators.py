"""``jobrelay emulator wandb|anyscale|fused``: serve offline platform emulators on loopback for
tests and demos.

Mount with ``app.add_typer(emulators.app, name="emulator")``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from jobrelay.cli.render import console

if TYPE_CHECKING:
    from jobrelay_emulators.lifecycle import EmulatorServer

__all__ = ["app"]

app = typer.Typer(
    help="Serve offline emulators of hosted platforms (needs jobrelay[emulators]).",
    no_args_is_help=True,
    rich_markup_mode=None,  # help as written: '[emulators]' is no markup
)


@app.callback()
def emulators() -> None:
    """Serve offline emulators of hosted platforms (needs jobrelay[emulators])."""


Port = Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")]
Workdir = Annotated[
    Path | None, typer.Option(help="Where the jobs' processes run [default: a temp dir].")
]


@app.command("wandb")
def wandb(
    port: Port = 8080,
    entity: Annotated[str, typer.Option(help="The viewer's entity.")] = "emulator",
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="WANDB_API_KEY", help="The API key the emulator accepts [default: built in]."
        ),
    ] = None,
    queue: Annotated[
        list[str], typer.Option("--queue", "-q", help="Run queues to create at start.")
    ] = ["default"],  # noqa: B006 - typer reads list defaults this way
    agent: Annotated[bool, typer.Option(help="Run the simulated launch agent.")] = True,
    agent_home: Annotated[
        Path | None, typer.Option(help="Where the agent's local platform keeps jobs.")
    ] = None,
) -> None:
    """Serve the W&B emulator (GraphQL, storage and a launch agent) until Ctrl-C."""
    _check_port(port)
    with _installed():
        from jobrelay_emulators.wandb import DEFAULT_API_KEY, WandbEmulator
    emulator = WandbEmulator(
        api_key=api_key or DEFAULT_API_KEY,
        entity=entity,
        port=port,
        agent=agent,
        agent_home=agent_home,
    )
    for name in queue:
        emulator.create_queue(name)
    _serve(
        emulator,
        [
            f"W&B emulator on {emulator.url} (entity {entity!r})",
            f"  export WANDB_BASE_URL={emulator.url}",
            *([f"  export WANDB_API_KEY={DEFAULT_API_KEY}"] if api_key is None else []),
            f"  platform: wandb://{entity}/PROJECT?queue={queue[0] if queue else 'default'}"
            f"&host={emulator.url}&image=python:3.11",
        ],
    )


@contextmanager
def _installed() -> Iterator[None]:
    """Import the emulators inside this block; when their distribution (or one of its
    dependencies) is not installed, say how to install it and exit 2 (a usage error)."""
    try:
        yield
    except ImportError as exc:
        _needs_extra(exc)


def _needs_extra(exc: ImportError) -> NoReturn:
    from jobrelay.cli.exits import USAGE, err_console

    # markup=False: the text is shown as written, '[emulators]' included.
    err_console.print(
        f"error: the emulators live in the jobrelay-emulators package ({exc})", markup=False
    )
    err_console.print("install it with: pip install 'jobrelay[emulators]'", markup=False)
    raise typer.Exit(USAGE)


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        from jobrelay.cli.exits import fail
        from jobrelay.errors import ConfigError

        fail(ConfigError(f"must be 0-65535 (0 picks a free port), got {port}", field="port"))


def _serve(emulator: EmulatorServer, lines: list[str]) -> None:
    """Start ``emulator``, print how to point a client (and the official SDK) at it, and
    serve until Ctrl-C."""
    emulator.start()
    for line in [*lines, "Ctrl-C to stop."]:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    sys.stdout.flush()
    emulator.serve_forever()


@app.command("anyscale")
def anyscale(
    port: Port = 8081,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ANYSCALE_CLI_TOKEN",
            help="The CLI token the emulator accepts [default: built in].",
        ),
    ] = None,
    queue: Annotated[
        list[str], typer.Option("--queue", "-q", help="Job queues to create at start.")
    ] = [],  # noqa: B006 - typer reads list defaults this way
    workdir: Workdir = None,
) -> None:
    """Serve the Anyscale emulator (jobs run as local processes) until Ctrl-C."""
    _check_port(port)
    with _installed():
        from jobrelay_emulators.anyscale import DEFAULT_TOKEN, AnyscaleEmulator

    emulator = AnyscaleEmulator(token=token or DEFAULT_TOKEN, port=port, workdir=workdir)
    for name in queue:
        emulator.create_queue(name)
    _serve(
        emulator,
        [
            f"Anyscale emulator on {emulator.url}",
            f"  export ANYSCALE_HOST={emulator.url}",
            *([f"  export ANYSCALE_CLI_TOKEN={DEFAULT_TOKEN}"] if token is None else []),
            f"  platform: anyscale://?host={emulator.url}",
        ],
    )


@app.command("fused")
def fused(
    port: Port = 8082,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="FUSED_AUTH_TOKEN", help="The token the emulator accepts [default: built in]."
        ),
    ] = None,
    workdir: Workdir = None,
) -> None:
    """Serve the Fused emulator (each UDF call runs as a local process) until Ctrl-C."""
    _check_port(port)
    with _installed():
        from jobrelay_emulators.fused import DEFAULT_TOKEN, TOKEN_TYPE, FusedEmulator

    emulator = FusedEmulator(token=token or DEFAULT_TOKEN, port=port, workdir=workdir)
    _serve(
        emulator,
        [
            f"Fused emulator on {emulator.base_url}",
            f'  ~/.fused/settings.toml: base_url = "{emulator.base_url}"  (the official SDK)',
            *([f"  export FUSED_AUTH_TOKEN={DEFAULT_TOKEN}"] if token is None else []),
            f"  export FUSED_AUTH_TOKEN_TYPE={TOKEN_TYPE}",
            f"  platform: fused://?base_url={emulator.base_url}",
        ],
    )
