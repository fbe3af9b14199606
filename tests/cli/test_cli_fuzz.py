"""The CLI refuses every bad value in one line with exit 2, before anything is sent
(hypothesis): no job in the local platform's home, nothing dialled on a hosted URL.

Runs the command in-process (typer's runner) so each drawn value costs milliseconds; the
subprocess tests in test_cli.py and tests/platforms/test_invalid_input.py cover the same
exit path as a user's shell sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient
from jobrelay.cli.app import app
from jobrelay.integration import run_sync
from typer.testing import CliRunner

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

numbers_out_of_range = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "0", "-1", "1e12"]),
    st.floats(max_value=0, allow_nan=False, allow_infinity=False).map(repr),
)
# option -> (values it must refuse, whether it needs --wait, the field the error names)
SUBMIT_OPTIONS: dict[str, tuple[st.SearchStrategy[str], bool, str]] = {
    "--priority": (
        st.one_of(st.integers(min_value=1001), st.integers(max_value=-1001)).map(str),
        False,
        "priority",
    ),
    "--retries": (
        st.one_of(st.integers(max_value=-1), st.integers(min_value=1001)).map(str),
        False,
        "max_retries",
    ),
    "--attempt-timeout": (numbers_out_of_range, False, "timeout_s"),
    "--queue-timeout": (numbers_out_of_range, True, "queue_timeout"),
    "--run-timeout": (numbers_out_of_range, True, "run_timeout"),
    "--env": (st.sampled_from(["NOEQ", "=x", "A"]), False, "env"),
    "--queue": (st.sampled_from(["", " ", "q" * 129]), False, "queue"),
    "--name": (st.just("n" * 201), False, "name"),
    "--key": (st.sampled_from(["k" * 201]), False, "idempotency_key"),
}


def _invoke(home: Path, *args: str, platform: str | None = None) -> Any:
    env = {"JOBRELAY_PLATFORM": platform or f"local://{home}?autostart=0", "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def _jobs(home: Path) -> int:
    if not home.exists():
        return 0

    async def count(client: AsyncClient) -> int:
        return len(await client.list_jobs(limit=1000))

    return run_sync(lambda: AsyncClient(f"local://{home}?autostart=0"), count)


def _one_line_exit_2(result: Any, field: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0], lines[0]


@SETTINGS
@given(data=st.data(), option=st.sampled_from(sorted(SUBMIT_OPTIONS)))
def test_submit_refuses_a_bad_value_in_one_line_before_any_job(
    data: st.DataObject, option: str, tmp_path: Path
) -> None:
    values, needs_wait, field = SUBMIT_OPTIONS[option]
    value = data.draw(values)
    wait = ["--wait"] if needs_wait and data.draw(st.booleans()) else []
    result = _invoke(tmp_path / "home", "submit", *wait, f"{option}={value}", "true")
    _one_line_exit_2(result, field)
    assert _jobs(tmp_path / "home") == 0


@pytest.mark.parametrize("option", ["--queue-timeout", "--run-timeout"])
def test_a_wait_limit_without_wait_is_refused_not_ignored(option: str, tmp_path: Path) -> None:
    result = _invoke(tmp_path / "home", "submit", option, "5", "true")
    _one_line_exit_2(result, option.removeprefix("--").replace("-", "_"))
    assert "--wait" in result.stderr
    assert _jobs(tmp_path / "home") == 0


@SETTINGS
@given(
    option=st.sampled_from(["--timeout", "--queue-timeout", "--run-timeout"]),
    value=numbers_out_of_range,
)
def test_wait_refuses_a_bad_limit_before_reading_the_job(
    option: str, value: str, tmp_path: Path
) -> None:
    result = _invoke(tmp_path / "home", "wait", "j-1", f"{option}={value}")
    _one_line_exit_2(result, option.removeprefix("--").replace("-", "_"))
    assert not (tmp_path / "home").exists()  # the platform was never opened


@pytest.mark.parametrize(
    ("platform", "field"),
    [
        ("anyscale://somehost", "platform"),
        ("fused://somehost", "platform"),
        ("anyscale://?compute_config=", "compute_config"),
        ("anyscale://?image=", "image"),
    ],
)
def test_a_platform_url_that_would_be_misread_is_refused(
    platform: str, field: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYSCALE_CLI_TOKEN", "t" * 20)
    monkeypatch.setenv("FUSED_AUTH_TOKEN", "t" * 20)
    result = _invoke(tmp_path, "submit", "true", platform=platform)
    _one_line_exit_2(result, field)
