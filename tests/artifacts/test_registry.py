"""One registry opens every artifact store by scheme; third parties add their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jobrelay.artifacts import (
    FsspecArtifactStore,
    LocalArtifactStore,
    known_store_schemes,
    open_store,
    register_store,
    stage,
)
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.errors import ArtifactError, ConfigError


def test_a_registered_scheme_opens_with_its_opener_and_stages_through_it(tmp_path: Path) -> None:
    opened: list[str] = []

    def opener(url: str, **options: object) -> ArtifactStore:
        opened.append(url)
        store = LocalArtifactStore(tmp_path / "vault")
        store.url = url  # the canonical URL of this store is the vault URL
        return store

    register_store("vault", opener)
    assert "vault" in known_store_schemes()
    store = open_store("vault://team/models")
    assert opened == ["vault://team/models"]
    assert store.url == "vault://team/models"


async def test_stage_opens_urls_through_the_registry(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("bytes to stage")
    source = FsspecArtifactStore(f"file://{tmp_path}/source")
    ref = await source.put("dataset", tmp_path / "a")

    staged = await stage(ref.uri, source.url, str(tmp_path / "target"))

    assert staged.digest == ref.digest
    assert staged.uri.startswith(str(tmp_path / "target"))
    again = await stage(ref, source, str(tmp_path / "target"))
    assert again == staged


def test_wandb_urls_open_the_wandb_store_and_need_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(ConfigError) as missing:
        open_store("wandb://team/vision?host=http://127.0.0.1:9")
    assert missing.value.field == "credential"
    assert "wandbfs" not in str(missing.value)

    store = open_store("wandb://team/vision?host=http://127.0.0.1:9", api_key="k" * 40)
    assert type(store).__name__ == "WandbArtifactStore"
    assert store.url == "wandb://team/vision?host=http://127.0.0.1:9"
    assert "k" * 40 not in repr(store)


def test_the_wandb_store_module_is_imported_only_when_a_wandb_url_is_opened() -> None:
    script = (
        "import sys\n"
        "from jobrelay.artifacts import open_store\n"
        "open_store('memory://x/y')\n"
        "assert 'jobrelay.platforms.wandb.artifacts' not in sys.modules\n"
        "open_store('wandb://team/vision', api_key='k' * 40)\n"
        "assert 'jobrelay.platforms.wandb.artifacts' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_local_stores_refuse_options_and_unknown_schemes_name_themselves(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no options"):
        open_store(str(tmp_path / "x"), endpoint_url="http://127.0.0.1:1")
    with pytest.raises(ArtifactError, match="nosuchproto"):
        open_store("nosuchproto://bucket/x")
    assert isinstance(open_store(tmp_path / "plain"), LocalArtifactStore)
