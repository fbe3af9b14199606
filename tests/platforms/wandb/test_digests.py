"""W&B digests against hand-computed vectors (reference §8).

md5(b"hello\\n") = b1946ac92492d2347c6235b4d2611184 (the textbook vector), whose standard
base64 is sZRqySSS0jR8YjW00mERhA==; the artifact digest is the hex MD5 of
"wandb-artifact-manifest-v1\\n" + "a.txt:<b64>\\n" + "b/c.txt:<b64>\\n", entries sorted by path.
"""

from __future__ import annotations

from pathlib import Path

from jobrelay.platforms.wandb.digests import (
    artifact_digest,
    b64_md5,
    b64_to_hex,
    file_b64_md5,
    manifest_bytes,
)

HELLO_B64 = "sZRqySSS0jR8YjW00mERhA=="
WORLD_B64 = "fXkwN6B2AYZXSwKC8vQ15w=="
EMPTY_B64 = "1B2M2Y8AsgTpgAmY7PhCfg=="
TWO_FILE_DIGEST = "14bb82b4c582061427d756b2d5f64030"
NO_FILE_DIGEST = "64e7c61456b10382e2f3b571ac24b659"  # md5("wandb-artifact-manifest-v1\n")


def test_file_digest_is_base64_of_md5() -> None:
    assert b64_md5(b"hello\n") == HELLO_B64
    assert b64_md5(b"") == EMPTY_B64
    assert len(HELLO_B64) == 24


def test_file_digest_streams_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"world")
    assert file_b64_md5(path) == (WORLD_B64, 5)


def test_b64_digest_converts_to_hex() -> None:
    assert b64_to_hex(HELLO_B64) == "b1946ac92492d2347c6235b4d2611184"


def test_artifact_digest_sorts_entries_by_path() -> None:
    entries = {"b/c.txt": WORLD_B64, "a.txt": HELLO_B64}
    assert artifact_digest(entries) == TWO_FILE_DIGEST
    assert artifact_digest(list(reversed(list(entries.items())))) == TWO_FILE_DIGEST


def test_artifact_digest_of_no_files_is_md5_of_the_header() -> None:
    assert artifact_digest({}) == NO_FILE_DIGEST


def test_manifest_is_version_1_storage_policy_v1_layout_v2() -> None:
    import json

    raw = manifest_bytes({"a.txt": {"digest": HELLO_B64, "size": 6, "ref": None}})
    manifest = json.loads(raw)
    assert manifest["version"] == 1
    assert manifest["storagePolicy"] == "wandb-storage-policy-v1"
    assert manifest["storagePolicyConfig"] == {"storageLayout": "V2"}
    assert manifest["contents"] == {"a.txt": {"digest": HELLO_B64, "size": 6}}
