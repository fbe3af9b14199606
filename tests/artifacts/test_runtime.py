"""``jobrelay.runtime`` on the job side: clear errors when the contract is not met."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jobrelay import runtime


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.INPUTS_ENV, raising=False)
    monkeypatch.delenv(runtime.OUTPUTS_ENV, raising=False)


def test_missing_inputs_variable_says_how_to_set_it() -> None:
    with pytest.raises(runtime.HandoffError, match=r"\$JOBRELAY_INPUTS is not set"):
        runtime.input_path("data")


def test_unknown_input_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = {"data": {"path": "/x/data", "ref": {"version": "v2"}}, "labels": "/x/labels"}
    monkeypatch.setenv(runtime.INPUTS_ENV, json.dumps(inputs))

    with pytest.raises(runtime.HandoffError, match=r"no input named 'model'.*data, labels"):
        runtime.input_path("model")
    assert runtime.inputs() == {"data": Path("/x/data"), "labels": Path("/x/labels")}
    assert runtime.input_ref("data") == {"version": "v2"}


def test_malformed_inputs_variable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.INPUTS_ENV, "{not json")
    with pytest.raises(runtime.HandoffError, match="not valid JSON"):
        runtime.inputs()


def test_log_output_without_outputs_variable_fails(tmp_path: Path) -> None:
    (tmp_path / "o").write_text("x")
    with pytest.raises(runtime.HandoffError, match=r"\$JOBRELAY_OUTPUTS is not set"):
        runtime.log_output("out", tmp_path / "o")


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "a:b"])
def test_log_output_refuses_bad_names(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.OUTPUTS_ENV, str(tmp_path / "outputs"))
    (tmp_path / "o").write_text("x")
    with pytest.raises(runtime.HandoffError, match="invalid"):
        runtime.log_output(name, tmp_path / "o")
    assert not (tmp_path / "outputs").exists()


def test_log_output_writes_one_complete_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.OUTPUTS_ENV, str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)
    Path("o.txt").write_text("x")

    runtime.log_output("out", "o.txt", metadata={"acc": 0.9}, aliases=["best"])
    runtime.log_output("out", "o.txt", metadata={"acc": 0.95})  # the last record wins

    records = tmp_path / "outputs" / runtime.RECORDS_DIR
    assert [p.name for p in records.iterdir()] == ["out.json"]
    record = json.loads((records / "out.json").read_text())
    assert record == {
        "format": 1,
        "name": "out",
        "path": str(tmp_path / "o.txt"),
        "type": "file",
        "metadata": {"acc": 0.95},
        "aliases": [],
    }


def test_log_output_refuses_missing_paths_and_non_json_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.OUTPUTS_ENV, str(tmp_path / "outputs"))
    (tmp_path / "o").write_text("x")
    with pytest.raises(runtime.HandoffError, match="does not exist"):
        runtime.log_output("out", tmp_path / "missing")
    with pytest.raises(runtime.HandoffError, match="looks like a version"):
        runtime.log_output("out", tmp_path / "o", aliases=["v2"])
    with pytest.raises(runtime.HandoffError, match="not JSON-serializable"):
        runtime.log_output("out", tmp_path / "o", metadata={"x": object()})
