"""What a new user meets in the first hour with ``jobrelay`` (issue 28): help that shows
what it says, ``--version``, brackets printed as written, a Fused job started from the
command line, tables with the job's name that do not split states, an unknown queue
refused the same way by ``ls`` and ``submit``, a DNS failure reported at once.

Help and bad-value cases run in-process (typer's runner); what a shell sees (exit codes,
a missing extra, a whole job) runs ``python -m jobrelay`` as a user does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jobrelay.cli.app import app, job_config
from jobrelay.cli.demo import demo_stages
from jobrelay.errors import TransportError
from jobrelay.http import HttpSession, RetryPolicy
from jobrelay.models import MAX_PRIORITY
from typer.testing import CliRunner

pytestmark = pytest.mark.timeout(120)

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _invoke(home: Path, *args: str, columns: int = 200) -> Any:
    env = {"JOBRELAY_PLATFORM": f"local://{home}?autostart=0", "COLUMNS": str(columns)}
    return CliRunner().invoke(app, list(args), env=env)


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0, result.output
    return str(result.output)


def _subcommands(command: Any) -> dict[str, Any]:
    # A click group (typer >= 0.25 carries its own copy of click, so no isinstance).
    return dict(getattr(command, "commands", None) or {})


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in _subcommands(group).items():
        found.append((*path, name))
        found += _commands(command, (*path, name))
    return found


CLICK_APP = typer.main.get_command(app)
COMMANDS = _commands(CLICK_APP)


def _command(path: tuple[str, ...]) -> Any:
    command: Any = CLICK_APP
    for name in path:
        command = _subcommands(command)[name]
    return command


def _flat(text: str) -> str:
    return " ".join(text.split())


def _bare(text: str) -> str:
    # Help wraps at 80 columns, at spaces or after a hyphen ('--run-' / 'timeout').
    return "".join(text.split())


# -- help -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_options_help_is_printed_as_written(path: tuple[str, ...]) -> None:
    """Brackets in help ('[default: local://]', 'jobrelay[emulators]') are no markup."""
    shown = _bare(_help(*path))
    for param in _command(path).params:
        help_text = getattr(param, "help", None)
        if help_text:
            assert _bare(help_text) in shown, (param.name, help_text)


def test_help_shows_defaults_and_the_priority_range() -> None:
    shown = _flat(_help("submit"))
    assert "[default: local://]" in shown
    assert f"-{MAX_PRIORITY}..{MAX_PRIORITY}" in shown
    assert "[default: 0]" in shown
    assert "[default: 20]" in _flat(_help("ls"))


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_a_flag_shows_as_a_plain_flag(path: tuple[str, ...]) -> None:
    shown = _help(*path)
    assert "<bool>" not in shown
    assert re.search(r"--json\s+<", shown) is None


@pytest.mark.parametrize(
    ("path", "option"),
    [
        (("submit",), "--queue"),
        (("submit",), "--priority"),
        (("ls",), "--queue"),
        (("ls",), "--limit"),
    ],
)
def test_queue_priority_and_limit_say_what_they_do(path: tuple[str, ...], option: str) -> None:
    param = next(p for p in _command(path).params if option in p.opts)
    assert getattr(param, "help", None), option


def test_the_two_timeouts_are_named_for_what_they_limit() -> None:
    submit = {opt for p in _command(("submit",)).params for opt in p.opts}
    assert "--attempt-timeout" in submit
    assert "--timeout" not in submit  # it meant a per-attempt limit there, the whole wait elsewhere
    wait = _flat(_help("wait"))
    assert "--timeout" in wait
    assert "in all" in wait


def test_demo_help_says_what_the_demo_runs() -> None:
    stages = demo_stages()
    jobs = [spec.display_name for stage in stages for spec in stage]
    shown = _flat(_help("demo"))
    assert f"{len(jobs)}-job" in shown
    assert len(jobs) == 4  # prepare-train, prepare-test, train, evaluate
    for name in jobs:
        assert name in shown


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobrelay", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"jobrelay {version('jobrelay')}"


# -- text as written -----------------------------------------------------------------------

bracketed = st.text(alphabet=st.sampled_from("ab[]/:_-= .x"), min_size=1, max_size=30).filter(
    lambda s: "[" in s and s.strip()
)


@SETTINGS
@given(queue=bracketed)
def test_an_error_prints_the_users_text_as_written(queue: str, tmp_path: Path) -> None:
    result = _invoke(tmp_path / "home", "submit", "--queue", queue, "true")
    assert result.exit_code in (2, 5), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert repr(queue) in lines[0] or repr(queue.strip()) in lines[0], lines[0]


_BLOCK_EMULATOR_DEPS = """
import sys
BLOCKED = sys.argv[1].split(",")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["jobrelay", *sys.argv[2:]]
from jobrelay.cli import main
main()
"""


@pytest.mark.parametrize(
    ("platform", "missing"),
    [
        ("wandb", "jobrelay_emulators"),
        ("anyscale", "jobrelay_emulators"),
        ("fused", "jobrelay_emulators"),
        # W&B's emulator is an ASGI app: a broken install that lacks its server
        ("wandb", "uvicorn,starlette,graphql"),
    ],
)
def test_an_emulator_without_its_package_names_what_to_install(platform: str, missing: str) -> None:
    """The emulators are their own distribution: without it (or a dependency of it) the
    command says how to install it, with no traceback."""
    done = subprocess.run(
        [sys.executable, "-c", _BLOCK_EMULATOR_DEPS, missing, "emulator", platform, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'jobrelay[emulators]'" in done.stderr
    assert "Traceback" not in done.stderr


# -- --config ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
keys = st.text(
    alphabet=st.characters(blacklist_characters="=", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(key=keys, value=json_values)
def test_a_config_value_that_is_json_is_that_value(key: str, value: Any) -> None:
    assert job_config([f"{key}={json.dumps(value)}"], None) == {key: value}


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _is_json(text: str) -> bool:
    try:
        json.loads(text, parse_constant=_refuse)
    except ValueError:
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(key=keys, text=st.text(max_size=40) | st.sampled_from(["NaN", "-Infinity", "[1,", "yes"]))
def test_a_config_value_that_is_not_json_is_the_text(key: str, text: str) -> None:
    assume(not _is_json(text))
    assert job_config([f"{key}={text}"], None) == {key: text}


def test_config_pairs_override_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"code": "from file", "region": "us-west-2"}))
    assert job_config(["code=print(1)", "disk_size_gb=20"], path) == {
        "code": "print(1)",
        "region": "us-west-2",
        "disk_size_gb": 20,
    }


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["--config", "novalue"], None),
        (["--config", "=x"], None),
        (["--config-file", "{path}"], "[1, 2]"),
        (["--config-file", "{path}"], "not json"),
        (["--config-file", "{path}"], None),  # no such file
    ],
)
def test_a_bad_config_is_one_line_and_exit_2_before_any_job(
    args: list[str], written: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    if written is not None:
        path.write_text(written)
    args = [a.replace("{path}", str(path)) for a in args]
    result = _invoke(tmp_path / "home", "submit", *args, "true")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "config" in lines[0], result.stderr
    assert not (tmp_path / "home" / "jobrelay.db").exists()


# -- a Fused job from the command line --------------------------------------------------

SQUARE = """
@fused.udf
def udf(x: int = 2):
    print(f"squaring {x}")
    return {"x": x, "square": x * x}
"""


@pytest.mark.slow
def test_a_fused_job_starts_from_the_command_line_and_succeeds(tmp_path: Path) -> None:
    from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

    code_file = tmp_path / "square.py"
    code_file.write_text(SQUARE)
    emulator = FusedEmulator(workdir=tmp_path / "fused-jobs").start()
    try:
        env = {
            **os.environ,
            "JOBRELAY_PLATFORM": f"fused://?base_url={emulator.base_url}"
            f"&artifacts={tmp_path / 'store'}",
            "FUSED_AUTH_TOKEN": emulator.token,
            "FUSED_AUTH_TOKEN_TYPE": TOKEN_TYPE,
            "COLUMNS": "200",
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobrelay",
                "submit",
                "--wait",
                "--json",
                "--config",
                f"code={json.dumps(SQUARE)}",
                "--config",
                'parameters={"x": 7}',
                "udf",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["status"]["state"] == "SUCCEEDED"
        assert "squaring 7" in done.stderr  # the job's log, beside the JSON
        # The same job from a config file (config.code_file), the way a longer UDF is kept.
        config = tmp_path / "job.json"
        config.write_text(json.dumps({"code_file": str(code_file)}))
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobrelay",
                "submit",
                "--wait",
                "--config-file",
                str(config),
                "udf",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "SUCCEEDED" in again.stdout
    finally:
        emulator.stop()


# -- the job table -----------------------------------------------------------------------


def _run(home: Path, *args: str, columns: int = 200, fast: bool = True) -> Any:
    env = {
        **os.environ,
        "JOBRELAY_PLATFORM": f"local://{home}",
        "COLUMNS": str(columns),
        "JOBRELAY_CLI_FAST": "1" if fast else "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "jobrelay", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


STATES = {"QUEUED", "STARTING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "UNKNOWN"}


@pytest.mark.slow
def test_ls_and_status_show_the_jobs_name_and_80_columns_split_no_state(tmp_path: Path) -> None:
    from tests.platforms.conftest import kill_local_agents

    home = tmp_path / "home"
    names = {"train-the-large-model-on-all-shards": "true", "evaluate": "exit 3"}
    ids: dict[str, str] = {}
    try:
        for name, command in names.items():
            done = _run(home, "submit", "--json", "--name", name, command)
            assert done.returncode == 0, done.stderr
            ids[name] = json.loads(done.stdout)["id"]
        for job_id in ids.values():
            assert _run(home, "wait", job_id).returncode in (0, 1)
        for fast in (True, False):
            wide = _run(home, "ls", fast=fast).stdout
            header = wide.splitlines()[0].split()
            assert header[:3] == ["id", "name", "state"], wide
            for name, job_id in ids.items():
                line = next(x for x in wide.splitlines() if job_id in x)
                assert name in line.split(), line
            status = _run(home, "status", ids["evaluate"], fast=fast).stdout
            assert re.search(r"^\s*name\s+evaluate\s*$", status, re.M), status
            narrow = _run(home, "ls", columns=80, fast=fast).stdout
            lines = narrow.splitlines()
            assert max(map(len, lines)) <= 80
            for job_id in ids.values():  # a job's first line holds its whole id and state
                line = next(x for x in lines if job_id in x)
                assert set(line.split()) & STATES, (fast, narrow)
            # The folded name is all there, read down its column (a free-text header may
            # fold too: the header row is the one that starts with the id column).
            at = next(i for i, x in enumerate(lines) if x.startswith(" id "))
            start, end = lines[at].index(" name") + 1, lines[at].index(" state")
            folded = "".join(x[start:end].strip() for x in lines[at + 1 :])
            for name in names:
                assert name in folded, (fast, narrow)
    finally:
        kill_local_agents(home)


# -- a host that does not resolve ----------------------------------------------------------


class _CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport (real DNS), counting the attempts it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        return await super().handle_async_request(request)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_host_that_does_not_resolve_fails_at_once_naming_the_host(method: str) -> None:
    transport = _CountingTransport()
    # '.invalid' never resolves (RFC 2606); the policy would retry a refused connection.
    session = HttpSession(
        "http://no-such-host.invalid:8265",
        transport=transport,
        retry=RetryPolicy(attempts=5, timeout_s=30, wait_initial_s=0.01, wait_max_s=0.05),
    )
    try:
        with pytest.raises(TransportError) as caught:
            await session.request(method, "/api/jobs/", operation="list Ray jobs")
    finally:
        await session.aclose()
    assert transport.attempts == 1
    assert "'no-such-host.invalid' does not resolve" in str(caught.value)
    assert "host setting" in str(caught.value)


async def test_a_refused_connection_is_still_retried() -> None:
    transport = _CountingTransport()
    session = HttpSession(
        "http://127.0.0.1:9",  # discard port: nothing listens
        transport=transport,
        retry=RetryPolicy(attempts=3, timeout_s=30, wait_initial_s=0.01, wait_max_s=0.05),
    )
    try:
        with pytest.raises(TransportError, match=r"could not reach 127\.0\.0\.1:9"):
            await session.request("GET", "/", operation="probe")
    finally:
        await session.aclose()
    assert transport.attempts == 3


@pytest.mark.slow
def test_the_cli_reports_an_unresolvable_host_with_exit_4(tmp_path: Path) -> None:
    done = _run(tmp_path / "home", "ls", "--platform", "ray://no-such-host.invalid:8265")
    assert done.returncode == 4, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: list Ray jobs: the host name 'no-such-host.invalid'")
    assert "retrying" not in done.stderr


# -- an unknown queue, exit codes --------------------------------------------------------


@pytest.mark.slow
def test_ls_and_submit_refuse_an_unknown_queue_alike_with_exit_5(tmp_path: Path) -> None:
    from tests.platforms.conftest import kill_local_agents

    home = tmp_path / "home"
    try:
        assert _run(home, "queue", "create", "gpu").returncode == 0
        for fast in (True, False):
            listed = _run(home, "ls", "--queue", "nope", fast=fast)
            submitted = _run(home, "submit", "--queue", "nope", "true", fast=fast)
            for done in (listed, submitted):
                assert done.returncode == 5, (fast, done.stdout, done.stderr)
                assert done.stdout == ""
                lines = done.stderr.strip().splitlines()
                assert len(lines) == 1, done.stderr
                assert "queue 'nope' does not exist" in lines[0]
            assert "gpu" in listed.stderr  # the queues there are
            known = _run(home, "ls", "--queue", "gpu", fast=fast)
            assert known.returncode == 0, known.stderr
            assert known.stdout.split()[:2] == ["id", "name"]
    finally:
        kill_local_agents(home)


def _exit_code_sentences() -> list[str]:
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    found: list[str] = []
    for page in pages:
        if page.is_file():
            text = _flat(page.read_text())
            found += [m.group(0) for m in re.finditer(r"Exit codes: [^.]*\.", text)]
    return found


def test_the_documented_exit_codes_are_the_ones_the_cli_uses() -> None:
    from jobrelay.cli.exits import exit_codes_text

    sentences = _exit_code_sentences()
    assert sentences, "no 'Exit codes:' sentence in README.md or docs/"
    for sentence in sentences:
        assert sentence == exit_codes_text() + "."
    assert exit_codes_text() in _flat(_help())


# -- --priority ------------------------------------------------------------------------------


@pytest.mark.slow
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    priority=st.one_of(
        st.integers(-3 * MAX_PRIORITY, 3 * MAX_PRIORITY),
        st.sampled_from([-MAX_PRIORITY - 1, -MAX_PRIORITY, MAX_PRIORITY, MAX_PRIORITY + 1]),
        st.integers(min_value=10**6),
    )
)
def test_a_priority_is_taken_exactly_within_the_documented_range(
    priority: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("home")
    result = _invoke(home, "submit", "--json", "--priority", str(priority), "true")
    if -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["id"]
        return
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "priority" in lines[0]
    assert f"-{MAX_PRIORITY}..{MAX_PRIORITY}" in lines[0]  # the range --help shows
    assert not (home / "jobrelay.db").exists()  # refused before anything was written


def test_a_ray_jobs_status_carries_the_name_it_was_submitted_with() -> None:
    # JobDetails as Ray's Jobs API answers (reference/ray.md): the name rides in metadata.
    from jobrelay.models import JobRef
    from jobrelay.platforms.ray import payloads

    details = {
        "submission_id": "raysubmit_1",
        "status": "SUCCEEDED",
        "metadata": {payloads.NAME_METADATA: "nightly-train"},
    }
    ref = JobRef(platform="ray://127.0.0.1:8265", id="raysubmit_1")
    status = payloads.parse_status(details, ref, "http://127.0.0.1:8265")
    assert status.name == "nightly-train"
    assert payloads.parse_status({**details, "metadata": {}}, ref, "http://x").name is None
