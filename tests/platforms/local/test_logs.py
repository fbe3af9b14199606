"""Logs: JSON-lines records, byte-offset cursors, no duplicate and no gap when following."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jobrelay.errors import ConfigError
from jobrelay.models import JobSpec
from jobrelay.platforms.local import LocalPlatform, open_platform
from jobrelay.platforms.local.logs import encode_record, read_page

from .conftest import wait_for


def test_a_partly_written_record_is_not_returned_until_complete(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    whole = encode_record("stdout", "first")
    half = encode_record("stdout", "second")
    path.write_bytes(whole + half[:10])
    page = read_page(path, 0)
    assert [line.text for line in page.lines] == ["first"]
    assert page.next_offset == len(whole)
    assert not page.at_eof
    path.write_bytes(whole + half)
    again = read_page(path, page.next_offset)
    assert [line.text for line in again.lines] == ["second"]
    assert again.at_eof


def test_pages_are_bounded_and_resume_where_they_stopped(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"".join(encode_record("stdout", f"line {i}") for i in range(25)))
    seen, offset = [], 0
    while True:
        page = read_page(path, offset, max_lines=7)
        assert len(page.lines) <= 7
        seen += [line.text for line in page.lines]
        offset = page.next_offset
        if page.at_eof:
            break
    assert seen == [f"line {i}" for i in range(25)]


def test_a_record_bigger_than_the_byte_limit_is_returned_whole(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(encode_record("stdout", "x" * 5000) + encode_record("stderr", "after"))
    page = read_page(path, 0, max_bytes=100)
    assert [len(line.text) for line in page.lines] == [5000]


async def test_a_malformed_cursor_is_a_config_error(manual: LocalPlatform) -> None:
    ref = await manual.submit(JobSpec(entrypoint="true"))
    with pytest.raises(ConfigError) as info:
        await manual.logs(ref, "not-a-cursor")
    assert info.value.field == "cursor"


_PRINTER = """
import sys, time
for i in range(2000):
    print(f"out {i}")
    if i % 2:
        print(f"err {i}", file=sys.stderr)
    if i % 250 == 0:
        time.sleep(0.05)
"""


async def test_following_from_saved_cursors_yields_every_line_exactly_once(
    platform: LocalPlatform, home: Path
) -> None:
    ref = await platform.submit(JobSpec(entrypoint=[sys.executable, "-c", _PRINTER]))
    stdout: list[str] = []
    stderr: list[str] = []
    cursor: str | None = None
    pages = 0
    reader = platform
    resumed: list[LocalPlatform] = []
    while True:
        page = await reader.logs(ref, cursor)
        stdout += [line.text for line in page.lines if line.stream == "stdout"]
        stderr += [line.text for line in page.lines if line.stream == "stderr"]
        cursor = page.cursor  # saved as a plain string, as a trigger would
        pages += 1
        if page.done:
            break
        if pages % 5 == 0:
            # A different client resumes from the saved cursor, as after a restart.
            reader = await open_platform(f"local://{home}?autostart=0")
            resumed.append(reader)
    for other in resumed:
        await other.aclose()
    assert len(resumed) >= 1, "the job ended before a resume could be exercised"
    assert stdout == [f"out {i}" for i in range(2000)]
    assert stderr == [f"err {i}" for i in range(1, 2000, 2)]
    assert (await wait_for(platform, ref)).exit_code == 0
    final = await platform.logs(ref, cursor)
    assert final.lines == []
    assert final.done
