"""Ray wire payloads and parsers, checked without a cluster.

Response bodies follow the JobDetails shape measured on a real Ray 2.60 head
(``reference/ray.md`` §3); each test states one behaviour of the mapping.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobrelay import ConfigError, JobRef, JobSpec, JobState
from jobrelay.platforms._spec_check import check_spec as check_capabilities
from jobrelay.platforms.ray import Package, package_dir, package_module, submission_id_for
from jobrelay.platforms.ray.payloads import (
    KEY_METADATA,
    build_submit_body,
    check_spec,
    parse_address,
    parse_status,
    read_log_cursor,
    split_new_lines,
)
from jobrelay.platforms.registry import open_platform

from .conftest import make_modules

BASE = "http://127.0.0.1:8265"
REF = JobRef(platform="ray://127.0.0.1:8265", id="jobrelay-abc")


def details(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "SUBMISSION",
        "job_id": None,
        "submission_id": "jobrelay-abc",
        "driver_info": None,
        "status": "RUNNING",
        "entrypoint": "python train.py",
        "message": "Job is currently running.",
        "error_type": None,
        "start_time": 1795334224535,
        "end_time": None,
        "metadata": {},
        "runtime_env": None,
        "driver_exit_code": None,
    }
    body.update(fields)
    return body


def body_for(spec: JobSpec, **kw: Any) -> dict[str, Any]:
    return build_submit_body(spec, submission_id="jobrelay-x", nonce="n", **kw)


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "platform"),
    [
        ("ray://127.0.0.1:8265", "http://127.0.0.1:8265", "ray://127.0.0.1:8265"),
        ("ray://127.0.0.1", "http://127.0.0.1:8265", "ray://127.0.0.1:8265"),
        ("ray+https://ray.example:443/dash/", "https://ray.example:443/dash", None),
        ("ray+https://ray.example", "https://ray.example:443", "ray+https://ray.example:443"),
    ],
)
def test_ray_urls_name_the_dashboard(url: str, base: str, platform: str | None) -> None:
    address = parse_address(url)
    assert address.base_url == base
    if platform is not None:
        assert address.platform_url == platform


@pytest.mark.parametrize("url", ["ray://user:pw@127.0.0.1:8265", "ray://127.0.0.1:8265?token=x"])
async def test_credentials_in_the_url_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="JOBRELAY_RAY_TOKEN") as info:
        await open_platform(url)
    assert "pw" not in str(info.value)
    assert "=x" not in str(info.value)


# -- submit bodies -------------------------------------------------------------------------


def test_argv_entrypoint_is_shell_quoted() -> None:
    body = body_for(JobSpec(entrypoint=["python", "-c", "print('a b')"]))
    assert body["entrypoint"] == "python -c 'print('\"'\"'a b'\"'\"')'"


def test_resources_map_to_entrypoint_fields() -> None:
    spec = JobSpec(
        entrypoint="x", resources={"CPU": 1.5, "GPU": 1, "memory": 2e9, "accelerator_a10": 2}
    )
    body = body_for(spec)
    assert body["entrypoint_num_cpus"] == 1.5
    assert body["entrypoint_num_gpus"] == 1
    assert body["entrypoint_memory"] == 2_000_000_000
    assert body["entrypoint_resources"] == {"accelerator_a10": 2}


def test_env_is_merged_into_runtime_env_env_vars() -> None:
    spec = JobSpec(
        entrypoint="x",
        env={"A": "spec"},
        config={"runtime_env": {"pip": ["requests"], "env_vars": {"A": "cfg", "B": "cfg"}}},
    )
    runtime_env = body_for(spec)["runtime_env"]
    assert runtime_env == {"pip": ["requests"], "env_vars": {"A": "spec", "B": "cfg"}}


def test_uploaded_working_dir_replaces_the_local_path() -> None:
    body = body_for(JobSpec(entrypoint="x", working_dir="/src"), working_dir_uri="gcs://p.zip")
    assert body["runtime_env"]["working_dir"] == "gcs://p.zip"


def test_metadata_carries_name_tags_and_key() -> None:
    spec = JobSpec(entrypoint="x", name="train", tags={"team": "ml"}, idempotency_key="k1")
    metadata = body_for(spec)["metadata"]
    assert metadata["job_name"] == "train"
    assert metadata["team"] == "ml"
    assert metadata[KEY_METADATA] == "k1"


def test_submission_id_is_derived_from_the_key_only() -> None:
    assert submission_id_for("k1") == submission_id_for("k1")
    assert submission_id_for("k1") != submission_id_for("k1#2")
    assert submission_id_for("k1").startswith("jobrelay-")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"queue": "gpu"}, "queue"),
        ({"timeout_s": 10}, "timeout_s"),
        ({"max_retries": 2}, "max_retries"),
        ({"priority": 3}, "priority"),
        ({"config": {"runtime_envs": {}}}, "config.runtime_envs"),
        ({"config": {"runtime_env": ["pip"]}}, "runtime_env"),
    ],
)
async def test_what_ray_cannot_honour_is_a_config_error(fields: dict[str, Any], field: str) -> None:
    platform = await open_platform("ray://127.0.0.1:9")
    try:
        with pytest.raises(ConfigError) as info:
            await check_capabilities(JobSpec(entrypoint="x", **fields), platform)
    finally:
        await platform.aclose()
    assert info.value.field == field
    if field != "runtime_env":  # the core's check names the platform; Ray's own, the key
        assert "ray" in str(info.value).lower()


# -- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("PENDING", JobState.QUEUED),
        ("RUNNING", JobState.RUNNING),
        ("SUCCEEDED", JobState.SUCCEEDED),
        ("FAILED", JobState.FAILED),
        ("STOPPED", JobState.CANCELLED),
        ("SUSPENDED", JobState.UNKNOWN),
    ],
)
def test_ray_states_map_to_unified_states(raw: str, state: JobState) -> None:
    status = parse_status(details(status=raw), REF, BASE)
    assert status.state is state
    assert status.platform_state == raw


def test_failure_keeps_exit_code_and_error_type_but_not_the_log_copy() -> None:
    status = parse_status(
        details(
            status="FAILED",
            message="Job entrypoint command failed with exit code 3, last available logs "
            "(truncated to 20,000 chars):\nsecret log line\n",
            error_type="JOB_ENTRYPOINT_COMMAND_ERROR",
            driver_exit_code=3,
            end_time=1795334229663,
        ),
        REF,
        BASE,
    )
    assert status.exit_code == 3
    assert status.message == (
        "Job entrypoint command failed with exit code 3 [JOB_ENTRYPOINT_COMMAND_ERROR]"
    )
    assert status.metrics["ray_error_type"] == "JOB_ENTRYPOINT_COMMAND_ERROR"
    assert status.ended_at is not None
    assert status.ended_at.timestamp() == pytest.approx(1795334229.663)


def test_times_come_from_milliseconds_and_url_is_the_job_page() -> None:
    status = parse_status(details(), REF, BASE)
    assert status.submitted_at is not None
    assert status.submitted_at.timestamp() == pytest.approx(1795334224.535)
    assert status.ended_at is None
    assert status.url == "http://127.0.0.1:8265/#/jobs/jobrelay-abc"


# -- log cursor ----------------------------------------------------------------------------


def test_an_unfinished_last_line_waits_for_its_newline() -> None:
    lines, offset = split_new_lines("a\nb", 0, final=False, submission_id="s")
    assert [line.text for line in lines] == ["a"]
    more, end = split_new_lines("a\nbc\n", offset, final=False, submission_id="s")
    assert [line.text for line in more] == ["bc"]
    assert end == len("a\nbc\n")


def test_a_final_read_delivers_the_unfinished_last_line() -> None:
    lines, offset = split_new_lines("a\nb", 2, final=True, submission_id="s")
    assert [line.text for line in lines] == ["b"]
    assert offset == 3


def test_rays_own_lines_are_marked_system() -> None:
    log = (
        "2026-11-22 07:57:04,588\tINFO job_manager.py:581 -- Runtime env is setting up.\n"
        "Running entrypoint for job s: echo hi\nhi\n"
    )
    lines, _ = split_new_lines(log, 0, final=True, submission_id="s")
    assert [line.stream for line in lines] == ["system", "system", "stdout"]


def test_a_foreign_cursor_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        read_log_cursor("local:17")


# -- packaging -----------------------------------------------------------------------------


def make_tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "main.py").write_text("print('hi')\n")
    (root / "pkg" / "data.txt").write_text("payload\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref\n")
    return root


def test_the_same_folder_zips_to_the_same_bytes(tmp_path: Path) -> None:
    first = package_dir(make_tree(tmp_path / "a"))
    os.utime(tmp_path / "a" / "main.py", (1_000_000, 1_000_000))
    second = package_dir(tmp_path / "a")
    copy = package_dir(make_tree(tmp_path / "b"))
    assert first.data == second.data == copy.data
    assert first.name == copy.name


def test_changed_content_gives_a_new_package_name(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "a")
    before = package_dir(root).name
    (root / "main.py").write_text("print('changed')\n")
    assert package_dir(root).name != before


def test_the_zip_root_is_the_folder_and_git_is_left_out(tmp_path: Path) -> None:
    package = package_dir(make_tree(tmp_path / "a"))
    names = zipfile.ZipFile(io.BytesIO(package.data)).namelist()
    assert sorted(names) == ["main.py", "pkg/", "pkg/data.txt"]


def test_a_folder_over_the_upload_limit_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(64 * 1024))
    with pytest.raises(ConfigError, match="MiB") as info:
        package_dir(tmp_path, limit=32 * 1024)
    assert info.value.field == "working_dir"


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        package_dir(tmp_path / "nope")


def _names(package: Package) -> list[str]:
    return sorted(n for n in zipfile.ZipFile(io.BytesIO(package.data)).namelist() if n[-1] != "/")


def make_ignoring_tree(root: Path) -> Path:
    """A working dir whose ignore files leave things out at several depths."""
    files = {
        ".gitignore": "data/\n*.log\n!keep.log\n/top-only.txt\n.env\n",
        ".env": "TOKEN=s3cret\n",
        "main.py": "print('hi')\n",
        "top-only.txt": "x",
        "keep.log": "kept",
        "run.log": "dropped",
        "data/big.bin": "0" * 4096,
        "sub/.rayignore": "secret.txt\n/local.txt\n",
        "sub/secret.txt": "x",
        "sub/local.txt": "x",
        "sub/top-only.txt": "kept: /top-only.txt is anchored at the root",
        "sub/deeper/local.txt": "kept: /local.txt is anchored at sub/",
        "sub/deeper/secret.txt": "x",
        "sub/deeper/data/x.csv": "x",
        "notes/a.ckpt": "x",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_ignore_files_leave_out_what_they_match_below_their_folder(tmp_path: Path) -> None:
    package = package_dir(make_ignoring_tree(tmp_path), excludes=["*.ckpt"])
    assert _names(package) == [
        ".gitignore",
        "keep.log",
        "main.py",
        "sub/.rayignore",
        "sub/deeper/local.txt",
        "sub/top-only.txt",
    ]


@pytest.mark.parametrize("gitignore", [True, False], ids=["gitignore", "ignore-gitignore"])
def test_we_leave_out_exactly_what_rays_own_packaging_leaves_out(
    tmp_path: Path, gitignore: bool
) -> None:
    ray_packaging = pytest.importorskip(
        "ray._private.runtime_env.packaging", reason="ray[default] is not installed; `uv sync`"
    )
    root = make_ignoring_tree(tmp_path)
    seen: list[str] = []

    def collect(path: Path) -> None:
        if path.is_file():
            seen.append(path.relative_to(root).as_posix())

    excludes = [ray_packaging._get_excludes(root, ["*.ckpt"])]
    ray_packaging._dir_travel(root, excludes, collect, include_gitignore=gitignore)

    ours = package_dir(root, excludes=["*.ckpt"], gitignore=gitignore)
    assert _names(ours) == sorted(seen)


def test_without_gitignore_only_rayignore_and_excludes_apply(tmp_path: Path) -> None:
    names = _names(package_dir(make_ignoring_tree(tmp_path), gitignore=False))
    assert {".env", "run.log", "data/big.bin", "notes/a.ckpt"} <= set(names)
    assert "sub/secret.txt" not in names


def test_an_ignored_folder_does_not_count_against_the_upload_limit(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_bytes(os.urandom(64 * 1024))
    (tmp_path / ".rayignore").write_text("data/\n")
    assert _names(package_dir(tmp_path, limit=32 * 1024)) == [".rayignore"]


def test_a_bad_ignore_pattern_is_a_config_error_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / ".rayignore").write_text("!\n")
    with pytest.raises(ConfigError, match=r"\.rayignore") as info:
        package_dir(tmp_path)
    assert info.value.field == "working_dir"


@pytest.mark.parametrize("excludes", ["data/", [1], {"data/": True}])
def test_excludes_must_be_a_list_of_patterns_before_anything_is_sent(excludes: object) -> None:
    spec = JobSpec(entrypoint="true", config={"runtime_env": {"excludes": excludes}})
    with pytest.raises(ConfigError, match="list of gitignore patterns") as info:
        check_spec(spec)
    assert info.value.field == "runtime_env.excludes"


def test_py_modules_are_packed_as_rays_sdk_packs_them(tmp_path: Path) -> None:
    modules = make_modules(tmp_path)
    folder = package_module(modules["folder"])
    assert _names(folder) == ["mypkg/.gitignore", "mypkg/__init__.py"]
    assert "mypkg/" in zipfile.ZipFile(io.BytesIO(folder.data)).namelist()
    assert _names(package_module(modules["file"])) == ["helper.py"]
    wheel = package_module(modules["wheel"])
    assert (wheel.name, wheel.data) == (modules["wheel"].name, modules["wheel"].read_bytes())


@pytest.mark.parametrize("entry", ["missing", "notes.txt"])
def test_a_py_module_that_is_not_a_folder_py_or_wheel_is_a_config_error(
    tmp_path: Path, entry: str
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"not a folder, a \.py file or a \.whl") as info:
        package_module(tmp_path / entry)
    assert info.value.field == "runtime_env.py_modules"


def test_uploaded_py_modules_replace_their_local_paths_and_uris_stay() -> None:
    modules = ["src/mypkg", "s3://bucket/lib.zip"]
    spec = JobSpec(entrypoint="true", config={"runtime_env": {"py_modules": modules}})
    body = body_for(spec, py_module_uris={"src/mypkg": "gcs://jobrelay_abc.zip"})
    assert body["runtime_env"]["py_modules"] == ["gcs://jobrelay_abc.zip", "s3://bucket/lib.zip"]


@pytest.mark.parametrize("modules", ["src/mypkg", [3]])
def test_py_modules_must_be_a_list_of_paths_before_anything_is_sent(modules: object) -> None:
    spec = JobSpec(entrypoint="true", config={"runtime_env": {"py_modules": modules}})
    with pytest.raises(ConfigError, match="list of folders") as info:
        check_spec(spec)
    assert info.value.field == "runtime_env.py_modules"


# -- HTTP: auth and headers ------------------------------------------------------------------


async def test_token_goes_to_the_dashboard_only_and_nothing_looks_like_a_browser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBRELAY_RAY_TOKEN", "s3cret-token")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    platform = await open_platform("ray://127.0.0.1:8265", transport=httpx.MockTransport(handler))
    try:
        await platform.list_jobs()
    finally:
        await platform.aclose()
    (request,) = seen
    assert request.url == "http://127.0.0.1:8265/api/jobs/"
    assert request.headers["Authorization"] == "Bearer s3cret-token"
    assert not request.headers.get("User-Agent", "").startswith("Mozilla")
    assert not {"origin", "referer"} & {k.lower() for k in request.headers}
    assert "s3cret-token" not in repr(platform)


async def test_unknown_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="agent_idle_timeout"):
        await open_platform("ray://127.0.0.1:8265", agent_idle_timeout=3)
