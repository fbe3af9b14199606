"""The streaming copy: right digest for any size, and failures surface instead of hanging."""

from __future__ import annotations

import io
import os

import pytest
from jobrelay.artifacts.streams import CHUNK_SIZE, copy_hashing

from .conftest import content_digest


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 5 * CHUNK_SIZE + 3])
def test_copy_gives_the_bytes_and_their_digest(size: int) -> None:
    data = os.urandom(size)
    out = io.BytesIO()

    digest, copied = copy_hashing(io.BytesIO(data), out)

    assert out.getvalue() == data
    assert (digest, copied) == (content_digest(data), size)


class _FullDisk(io.RawIOBase):
    """A destination that fails after a few writes, like a disk that fills up."""

    def __init__(self, writes_before_failing: int) -> None:
        self.left = writes_before_failing

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        if self.left == 0:
            raise OSError(28, "No space left on device")
        self.left -= 1
        return len(data)  # type: ignore[arg-type]


def test_a_failing_write_is_raised_not_swallowed() -> None:
    source = io.BytesIO(bytes(12 * CHUNK_SIZE))
    with pytest.raises(OSError, match="No space left"):
        copy_hashing(source, _FullDisk(writes_before_failing=2))  # type: ignore[arg-type]
