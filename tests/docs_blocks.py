"""Find the fenced code blocks of a Markdown page and run each one as a reader would.

Used by ``tests/test_docs.py`` for ``docs/*.md`` and every README. A block's fence names its
kind (``python``, ``bash`` or ``text``; anything else is an error, so no block goes
unchecked by accident). An HTML comment on the line before a fence, invisible on GitHub and
on the site, says how to run it when the default does not fit::

    <!-- docs-test: file=train.py -->       the block is that file of the next blocks' folder
    <!-- docs-test: airflow-dag -->         a DAG file: Airflow's DagBag imports it, no errors
    <!-- docs-test: dagster-defs -->        a module whose Definitions Dagster validates
    <!-- docs-test: prefect-flow -->        a module Prefect imports, with its flows
    <!-- docs-test: continues -->           run after the page's previous python block
    <!-- docs-test: emulator=fused -->      run while ``jobrelay emulator fused`` serves, with
                                            the exports its banner prints and its platform URL
                                            as ``$JOBRELAY_PLATFORM``
    <!-- docs-test: serves -->              bash: servers, stopped once they print their banner
    <!-- docs-test: output -->              text: what the previous bash block printed

Python blocks run as scripts in a subprocess, in a folder of their own (with stand-in
``train.py``/``evaluate.py`` unless the page gives them), against a temporary jobrelay home.
Shell lines run when they are ``jobrelay`` commands (``JOB_ID`` is the last job id printed);
install commands are resolved against the workspace's metadata instead of downloading;
``uv run`` commands are checked to name what exists. A line no rule knows is an error.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
KINDS = ("python", "bash", "text")
FENCE = re.compile(r"^```(\S*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
JOB_ID = re.compile(r"\bj-[0-9a-f]{12}\b")
SERVE_BANNER_END = "Ctrl-C to stop."
TIMEOUT_S = 180.0

# Stand-ins for the files the examples name (a training job that records a model, a data
# file), unless a block of the page gives the file itself.
STAND_INS = {
    "train.py": (
        "from pathlib import Path\n"
        "from jobrelay import runtime\n"
        "out = Path(runtime.outputs_dir()) / 'model.pt'\n"
        "out.write_text('weights')\n"
        "runtime.log_output('model', out)\n"
        "print('trained')\n"
    ),
    "evaluate.py": "print('evaluated')\n",
    "eval.py": "print('evaluated')\n",
    "data.csv": "x,y\n1,2\n",
}


class BlockFailed(AssertionError):
    """A block did not do what the page says; the message names the page and line."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its kind, its text and its ``docs-test`` words."""

    path: Path
    line: int
    kind: str
    code: str
    directives: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line}"

    def option(self, name: str) -> str | None:
        """The value of ``name=value`` among the directives, if given."""
        for word in self.directives:
            key, _, value = word.partition("=")
            if key == name and value:
                return value
        return None


def blocks_of(path: Path, text: str | None = None) -> list[Block]:
    """The fenced blocks of a Markdown file, in order; an unclosed fence is an error."""
    lines = (path.read_text() if text is None else text).splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        start = i
        previous = DIRECTIVE.match(lines[i - 1]) if i > 0 else None
        words = tuple(previous.group(1).split()) if previous else ()
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise BlockFailed(f"{path}:{start + 1}: the fence is never closed")
        found.append(Block(path, start + 1, opening.group(1), "\n".join(body) + "\n", words))
        i += 1
    return found


@dataclass
class Session:
    """What the blocks of one page share: a folder, a jobrelay home, env, the last output."""

    workdir: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    last_output: str = ""
    last_job: str | None = None
    previous_python: str = ""
    # Shared by the pages of a test session: Prefect migrates its database once, not per block.
    prefect_home: Path | None = None

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBRELAY_", "PYTEST_"))}
        env.update(
            JOBRELAY_HOME=str(self.home),
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            COLUMNS="200",
            NO_COLOR="1",
            # A Prefect flow run starts Prefect's temporary server in a home of its own; on two
            # busy cores its start can take longer than Prefect's default 20 s.
            PREFECT_HOME=str(self.prefect_home or self.workdir / "prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        )
        env.update(self.env)
        return env


def run_block(block: Block, session: Session) -> None:
    """Run one block as the page means it; raise ``BlockFailed`` naming the block if not."""
    if block.kind not in KINDS:
        raise BlockFailed(
            f"{block.where}: a fence of kind {block.kind!r}; use one of {', '.join(KINDS)}"
        )
    for script, text in STAND_INS.items():
        if not (session.workdir / script).exists():
            (session.workdir / script).write_text(text)
    if block.kind == "python":
        _run_python(block, session)
    elif block.kind == "bash":
        _run_shell(block, session)
    elif "output" in block.directives:
        _check_output(block, session)


# ---- python ---------------------------------------------------------------------------


def _run_python(block: Block, session: Session) -> None:
    name = block.option("file")
    if name is not None:
        target = session.workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code)
        _compile(block, block.code)
        return
    code = block.code
    if "continues" in block.directives:
        code = session.previous_python + code
    session.previous_python = code
    _compile(block, code)
    if "airflow-dag" in block.directives:
        _load_in_framework(block, session, code, _AIRFLOW_LOADER, _airflow_env(session))
    elif "dagster-defs" in block.directives:
        _load_in_framework(block, session, code, _DAGSTER_LOADER, {})
    elif "prefect-flow" in block.directives:
        _load_in_framework(block, session, code, _PREFECT_LOADER, {})
    else:
        script_path = session.workdir / f"block_{block.line}.py"
        script_path.write_text(code)
        emulator = block.option("emulator")
        if emulator is None:
            _check(block, _call([sys.executable, str(script_path)], session))
            return
        command = [str(VENV_BIN / "jobrelay"), "emulator", emulator, "--port", "0"]
        with _serving(block, session, command) as banner:
            env = dict(re.findall(r"^\s*export (\w+)=(\S+)$", banner, re.MULTILINE))
            platform = re.search(r"^\s*platform: (\S+)$", banner, re.MULTILINE)
            if platform is not None:
                env["JOBRELAY_PLATFORM"] = platform.group(1)
            done = _call([sys.executable, str(script_path)], session, extra_env=env)
        _check(block, done)


def _compile(block: Block, code: str) -> None:
    try:
        compile(code, block.where, "exec")
    except SyntaxError as error:
        raise BlockFailed(f"{block.where}: not valid Python: {error}") from error


_AIRFLOW_LOADER = """
import sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
assert bag.dags, "no DAG in the block"
print("dags:", sorted(bag.dags))
"""

_DAGSTER_LOADER = """
import importlib.util, sys
import dagster as dg
spec = importlib.util.spec_from_file_location("block", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
found = [v for v in vars(module).values() if isinstance(v, dg.Definitions)]
assert found, "no Definitions in the block"
for defs in found:
    dg.Definitions.validate_loadable(defs)
print("definitions:", len(found))
"""

_PREFECT_LOADER = """
import importlib.util, sys
from prefect import Flow
spec = importlib.util.spec_from_file_location("block", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
flows = [v for v in vars(module).values() if isinstance(v, Flow)]
assert flows, "no flow in the block"
print("flows:", [f.name for f in flows])
"""


def _airflow_env(session: Session) -> dict[str, str]:
    home = session.workdir / "airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_CONN_JOBRELAY_DEFAULT": '{"conn_type": "jobrelay"}',
    }


def _load_in_framework(
    block: Block, session: Session, code: str, loader: str, env: dict[str, str]
) -> None:
    folder = session.workdir / f"block_{block.line}"
    folder.mkdir(parents=True, exist_ok=True)
    module = folder / "block_module.py"
    module.write_text(code)
    target = folder if loader is _AIRFLOW_LOADER else module
    _check(block, _call([sys.executable, "-c", loader, str(target)], session, extra_env=env))


# ---- shell ----------------------------------------------------------------------------


def _commands(code: str) -> list[str]:
    """The block's commands: comments and blank lines dropped, ``\\`` lines joined,
    ``a && b`` split."""
    joined = code.replace("\\\n", " ")
    commands: list[str] = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        text = shlex.join(words)
        commands.extend(part.strip() for part in text.split(" '&&' ") if part.strip())
        # shlex.join quotes a bare && as '&&'; both spellings are split above.
    return commands


def _run_shell(block: Block, session: Session) -> None:
    session.last_output = ""
    for command in _commands(block.code):
        words = shlex.split(command)
        _run_command(block, session, words)


def _run_command(block: Block, session: Session, words: list[str]) -> None:
    if words[:3] == ["python3", "-m", "pip"] or words[:1] == ["pip"]:
        rest = words[3:] if words[0] == "python3" else words[1:]
        if rest[:1] != ["install"]:
            raise BlockFailed(f"{block.where}: only pip install is understood: {words}")
        for requirement in (w for w in rest[1:] if not w.startswith("-")):
            check_requirement(block, requirement)
        return
    if words[:3] == ["python3", "-m", "uv"]:
        _uv_command(block, session, words[3:])
        return
    if words[:1] == ["export"]:
        for assignment in words[1:]:
            name, sep, value = assignment.partition("=")
            if not sep:
                raise BlockFailed(f"{block.where}: export without a value: {assignment}")
            session.env[name] = value
        return
    if words[:1] == ["jobrelay"]:
        _jobrelay(block, session, words)
        return
    if words[:2] == ["dagster", "dev"] and "-f" in words:
        path = ROOT / words[words.index("-f") + 1]
        _load_in_framework(block, session, path.read_text(), _DAGSTER_LOADER, {})
        return
    if words[:4] == ["prefect", "block", "register", "-m"]:
        _check(block, _call([sys.executable, "-c", f"import {words[4]}"], session))
        return
    raise BlockFailed(f"{block.where}: no rule runs or checks this command: {shlex.join(words)}")


def _uv_command(block: Block, session: Session, words: list[str]) -> None:
    if words[:1] != ["run"]:
        raise BlockFailed(f"{block.where}: only 'uv run' is understood: {words}")
    rest = [w for w in words[1:] if w not in ("--frozen", "--no-dev")]
    if rest[:1] == ["pytest"]:
        values = {i + 1 for i, a in enumerate(rest) if a in ("-m", "-k")}
        for i, arg in enumerate(rest[1:], start=1):
            if i in values or arg.startswith("-"):
                continue
            if not (ROOT / arg.split("::")[0]).exists():
                raise BlockFailed(f"{block.where}: pytest names a path that is missing: {arg}")
        if any(a in ("-m", "-k") for a in rest) or len(rest) > 1:
            return
        # The whole suite: the very command CI runs (never run from inside the suite).
        ci = (ROOT / ".ci" / "run").read_text()
        if "python3 -m uv run --frozen pytest\n" not in ci:
            raise BlockFailed(f"{block.where}: .ci/run no longer runs this test command")
        return
    if rest[:1] == ["python"] and len(rest) >= 2:
        path = ROOT / rest[1]
        if not path.is_file():
            raise BlockFailed(f"{block.where}: no such script: {rest[1]}")
        _compile(block, path.read_text())
        return
    if rest[:1] == ["jobrelay"]:
        _jobrelay(block, session, rest)
        return
    if rest[:1] in (["ruff"], ["mypy"]):
        if not (VENV_BIN / rest[0]).exists():
            raise BlockFailed(f"{block.where}: {rest[0]} is not in the dev environment")
        return
    raise BlockFailed(f"{block.where}: no rule for: uv {shlex.join(words)}")


def _jobrelay(block: Block, session: Session, words: list[str]) -> None:
    if "JOB_ID" in words and session.last_job is None:
        # JOB_ID stands for any job: the page has made none yet, so one is made for it.
        _jobrelay(block, session, ["jobrelay", "submit", "echo a job for JOB_ID"])
    args = [session.last_job if w == "JOB_ID" and session.last_job else w for w in words[1:]]
    command = [str(VENV_BIN / "jobrelay"), *args]
    if "serves" in block.directives:
        session.last_output += _serve_until_banner(block, session, command)
        return
    done = _call(command, session)
    _check(block, done)
    session.last_output += done.stdout
    ids = JOB_ID.findall(done.stdout + done.stderr)
    if ids:
        session.last_job = ids[-1]


def _serve_until_banner(block: Block, session: Session, command: list[str]) -> str:
    """Start a server, read what it prints up to its banner's end, then Ctrl-C it."""
    with _serving(block, session, command) as banner:
        return banner


@contextlib.contextmanager
def _serving(block: Block, session: Session, command: list[str]) -> Iterator[str]:
    """A server running while the ``with`` body runs; yields its banner. Ctrl-C at the end."""
    proc = subprocess.Popen(
        command,
        cwd=session.workdir,
        env=session.base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip() == SERVE_BANNER_END:
                break
        else:
            lines.append("(no banner within 60 s)")
        if not lines or lines[-1].strip() != SERVE_BANNER_END:
            raise BlockFailed(f"{block.where}: {command[1:]} printed no banner:\n{''.join(lines)}")
        yield "".join(lines)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


def _check_output(block: Block, session: Session) -> None:
    shown = [line.rstrip() for line in block.code.strip("\n").splitlines()]
    printed = [line.rstrip() for line in session.last_output.strip("\n").splitlines()]
    if shown != printed:
        raise BlockFailed(
            f"{block.where}: the page shows\n"
            + "\n".join(shown)
            + "\nbut the command printed\n"
            + "\n".join(printed)
        )


# ---- install commands -----------------------------------------------------------------


def workspace_extras() -> dict[str, set[str]]:
    """Each workspace distribution's normalized name -> its extras."""
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    found: dict[str, set[str]] = {}
    for member in members:
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
        found[_normalize(project["name"])] = set(project.get("optional-dependencies", {}))
    return found


def locked_names() -> set[str]:
    """The names of every package in uv.lock (what the workspace resolves to)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {_normalize(package["name"]) for package in lock["package"]}


def check_requirement(block: Block, requirement: str) -> None:
    """A ``pip install`` argument names a workspace distribution (and extras it has), a
    package the lock resolves, or uv itself (what installs the rest)."""
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([^\]]*)\])?(.*)", requirement)
    if match is None:
        raise BlockFailed(f"{block.where}: not a requirement: {requirement}")
    name = _normalize(match.group(1))
    extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
    members = workspace_extras()
    if name in members:
        unknown = extras - members[name]
        if unknown:
            raise BlockFailed(
                f"{block.where}: {match.group(1)} has no extra {sorted(unknown)}; "
                f"it has {sorted(members[name])}"
            )
        return
    if name == "uv" or (name in locked_names() and not extras):
        return
    raise BlockFailed(f"{block.where}: {requirement} is neither in the workspace nor the lock")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---- processes ------------------------------------------------------------------------


def _call(
    command: list[str], session: Session, *, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in a process group of its own; whatever it leaves in the group (a
    Prefect temporary server, a job's child) is killed when it ends or times out."""
    env = session.base_env()
    env.update(extra_env or {})
    proc = subprocess.Popen(
        command,
        cwd=session.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        stderr += f"\n(killed after {TIMEOUT_S:.0f} s)"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def _check(block: Block, done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise BlockFailed(
            f"{block.where}: exit {done.returncode} from {shlex.join(map(str, done.args))[:200]}"
            f"\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        )
