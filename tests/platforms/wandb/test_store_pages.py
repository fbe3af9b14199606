"""The W&B store reads paged answers to the end: versions, collections and file URLs come
a page at a time (pages made small here), and nothing past the first page is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobrelay.platforms.wandb import WandbArtifactStore, artifacts
from jobrelay_emulators.wandb import WandbEmulator

pytestmark = pytest.mark.timeout(60)


async def test_every_page_of_versions_collections_and_files_is_read(
    emulator: WandbEmulator,
    store: WandbArtifactStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(artifacts, "PAGE", 2)
    monkeypatch.setattr(artifacts, "FILE_PAGE", 2)
    made = []
    for n in range(3):
        (tmp_path / f"v{n}.txt").write_text(f"version {n}\n")
        made.append(await store.put("alpha", tmp_path / f"v{n}.txt"))
    for name in ("beta", "gamma"):
        (tmp_path / f"{name}.txt").write_text(name)
        made.append(await store.put(name, tmp_path / f"{name}.txt"))
    folder = tmp_path / "folder"
    folder.mkdir()
    for n in range(5):
        (folder / f"part-{n}.csv").write_text(f"rows {n}\n")
    made.append(await store.put("omega", folder))

    emulator.requests.clear()
    listed = await store.list()
    assert [r.uri for r in listed] == [r.uri for r in made]
    assert [r.uri for r in await store.list("alpha")] == [r.uri for r in made[:3]]
    # 4 collections at 2 a page; alpha's 3 versions at 2 a page (twice: all, then alpha).
    assert len(emulator.calls("ProjectArtifactCollections")) == 2
    assert len(emulator.calls("CollectionVersions")) == 2 + 1 + 1 + 1 + 2

    out = await store.fetch(made[-1], tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == [f"part-{n}.csv" for n in range(5)]
    assert (out / "part-4.csv").read_text() == "rows 4\n"
    assert len(emulator.calls("GetArtifactMembershipFileUrls")) == 3
