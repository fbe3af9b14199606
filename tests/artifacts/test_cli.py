"""``jobrelay artifacts``: put, get, ls, show, and one-line errors with exit code 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from jobrelay.artifacts import LocalArtifactStore
from jobrelay.cli.artifacts import app
from jobrelay.models import JobRef
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local platform's home; its store is the CLI's default."""
    monkeypatch.setenv("JOBRELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JOBRELAY_ARTIFACTS", raising=False)
    return tmp_path / "home"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_put_then_get_round_trips_through_the_default_store(home: Path, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")

    code, out, _ = _invoke("put", "dataset", str(tmp_path / "data.csv"), "--alias", "prod")
    assert code == 0
    assert out.startswith("dataset:v1  sha256-4mib:")
    assert f"local://{home}#dataset:v1" in out

    code, out, _ = _invoke("get", "dataset:prod", str(tmp_path / "copy.csv"))
    assert code == 0
    assert (tmp_path / "copy.csv").read_text() == "a,b\n1,2\n"
    assert (home / "artifacts" / "index.sqlite3").exists()


def test_get_into_an_existing_folder_writes_inside_it(home: Path, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x")
    (tmp_path / "downloads").mkdir()
    _invoke("put", "dataset", str(tmp_path / "data.csv"))

    code, _, _ = _invoke("get", "dataset", str(tmp_path / "downloads"))

    assert code == 0
    assert (tmp_path / "downloads" / "dataset").read_text() == "x"


def test_ls_lists_versions_and_json_is_machine_readable(home: Path, tmp_path: Path) -> None:
    for text in ("one", "two"):
        (tmp_path / text).write_text(text)
        _invoke("put", "notes", str(tmp_path / text))
    _invoke("put", "other", str(tmp_path / "one"), "--store", str(tmp_path / "elsewhere"))

    code, out, _ = _invoke("ls")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["notes:v1", "notes:v2"]

    code, out, _ = _invoke("ls", "notes", "--json")
    assert [ref["version"] for ref in json.loads(out)] == ["v1", "v2"]

    code, out, _ = _invoke("ls", "--store", str(tmp_path / "elsewhere"))
    assert [line.split()[0] for line in out.splitlines()] == ["other:v1"]


def test_show_prints_digest_size_uri_producer_and_consumers(home: Path, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"weights")
    store = LocalArtifactStore(home / "artifacts")
    producer = JobRef(platform="local:///srv", id="train-1")
    consumer = JobRef(platform="local:///srv", id="eval-2")

    async def seed() -> None:
        ref = await store.put("model", tmp_path / "m.bin", producer=producer)
        await store.record_consumer(ref, consumer)

    asyncio.run(seed())

    code, out, _ = _invoke("show", "model:v1")
    assert code == 0
    fields = dict(line.split(":", 1) for line in out.splitlines())
    assert fields["digest"].strip().startswith("sha256-4mib:")
    assert fields["size"].strip().startswith("7 bytes")
    assert fields["uri"].strip() == f"local://{home}#model:v1"
    assert fields["producer"].strip() == "local:///srv#train-1"
    assert fields["consumers"].strip() == "local:///srv#eval-2"

    code, out, _ = _invoke("show", "model", "--json")
    body = json.loads(out)
    assert body["producer"]["id"] == "train-1"
    assert [job["id"] for job in body["consumers"]] == ["eval-2"]


@pytest.mark.parametrize(
    "args",
    [
        ["put", "../escape", "{file}"],
        ["put", "ok", "{tmp}/missing"],
        ["put", "ok", "{file}", "--alias", "v2"],
        ["put", "ok", "{file}", "--metadata", "[1, 2]"],
        ["get", "nothing:v1", "{tmp}/out"],
        ["show", "bad\0name"],
        ["ls", "a/b"],
        ["ls", "--store", "nosuchproto://x"],
    ],
)
def test_errors_are_one_line_and_exit_2(home: Path, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "f.txt").write_text("x")
    filled = [a.format(file=tmp_path / "f.txt", tmp=tmp_path) for a in args]

    code, out, err = _invoke(*filled)

    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error:")
    assert "Traceback" not in out + err


def test_digest_of_a_path_matches_the_version_a_put_records(
    home: Path, tmp_path: Path, sample_folder: Path
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    for path in (tmp_path / "data.csv", sample_folder):
        code, out, _ = _invoke("put", "thing", str(path), "--json")
        assert code == 0
        ref = json.loads(out)

        code, out, _ = _invoke("digest", str(path))

        assert code == 0
        assert out == f"{ref['digest']}  {ref['size']}  {path}\n"


def test_digest_of_a_missing_path_is_one_line_and_exit_2(home: Path, tmp_path: Path) -> None:
    code, out, err = _invoke("digest", str(tmp_path / "nope"))

    assert (code, out) == (2, "")
    assert "nope is not a file or folder" in err
    assert "Traceback" not in err
