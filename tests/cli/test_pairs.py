"""``--env NAME=VALUE`` and ``--config KEY=VALUE`` are read by one rule: a pair without
``=`` or without a name is a one-line error naming the option, before any job exists, and
a value given without its name is never repeated (it may be a secret)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobrelay.cli.app import app
from typer.testing import CliRunner

from tests.platforms.conftest import kill_local_agents


@pytest.mark.parametrize("option", ["--env", "--config"])
@pytest.mark.parametrize("pair", ["=s3cr3t-value", "NO_EQUALS_SIGN"])
def test_a_bad_pair_is_one_line_naming_its_option_and_no_job(
    option: str, pair: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["submit", "--platform", f"local://{home}", option, pair, "true"]
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert option.removeprefix("--") in lines[0]
    assert "VALUE" in lines[0]
    assert "s3cr3t" not in result.output
    assert not (home / "jobrelay.db").exists()


def test_good_pairs_reach_the_job(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        result = CliRunner().invoke(
            app,
            [
                "submit", "--platform", f"local://{home}", "--wait", "--json",
                "--env", "GREETING=a=b", "--", "sh", "-c", 'echo "$GREETING"',
            ],
        )  # fmt: skip
    finally:
        kill_local_agents(home)
    assert result.exit_code == 0, result.output
    assert "a=b" in result.output
