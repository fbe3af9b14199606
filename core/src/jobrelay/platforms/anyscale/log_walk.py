"""The Anyscale log walk, without I/O: :class:`LogWalk` says which chunk listing or chunk a
log read fetches next (runs, then their chunk listings, then chunks) and turns what comes back
into lines and the next cursor; the platform does the fetching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobrelay.models import LogLine
from jobrelay.platforms.anyscale.payloads import LogCursor, chunk_lines

__all__ = ["CHUNKS_PER_READ", "ChunkDownload", "ChunkListing", "LogWalk"]

CHUNKS_PER_READ = 200  # chunk downloads one log read makes at most
RUN_FINISHED = frozenset({"COMPLETED", "SUCCEEDED", "STOPPED", "FAILED"})


@dataclass(frozen=True)
class ChunkListing:
    """Fetch the chunk listing of run ``run_id`` at ``page`` (None: the first page)."""

    run_id: str
    page: str | None


@dataclass(frozen=True)
class ChunkDownload:
    """Download the chunk at ``url``, with the listing's ``bearer`` token when it gave one."""

    url: str
    bearer: str | None


class LogWalk:
    """One log read's walk over the job's runs, their chunk listings and the chunks, without
    I/O: :meth:`next` says what to fetch, :meth:`listed` and :meth:`downloaded` take what
    was fetched, and once :meth:`next` says None, ``lines``, ``cursor`` and ``done`` are the
    page.

    ``runs`` are the job's runs oldest first; ``terminal`` whether the job had ended when
    they were read (then every listed chunk is complete). A run's last chunk is complete
    only when the run is finished or a later run exists: until then its unfinished last
    line is held back, and the cursor stays on that chunk. At most ``limit`` chunks are
    downloaded; the cursor says where the next read goes on.
    """

    def __init__(
        self,
        runs: Sequence[Mapping[str, Any]],
        cursor: LogCursor,
        *,
        terminal: bool,
        limit: int = CHUNKS_PER_READ,
    ) -> None:
        self.lines: list[LogLine] = []
        self.cursor = cursor
        self.done = terminal and not runs
        self._runs = runs
        self._terminal = terminal
        self._limit = limit
        self._downloads = 0
        self._over = False
        # The listing being read: its chunks, bearer token and next page, and the index of
        # the chunk to download next.
        self._chunks: Sequence[Mapping[str, Any]] | None = None
        self._bearer: str | None = None
        self._following: str | None = None
        self._index = 0

    def _run_done(self) -> bool:
        at = self.cursor.run
        return (
            self._terminal
            or at < len(self._runs) - 1
            or self._runs[at].get("status") in RUN_FINISHED
        )

    def next(self) -> ChunkListing | ChunkDownload | None:
        """What to fetch next; None when the page is complete."""
        while not self._over:
            at = self.cursor
            if self._chunks is None:
                if at.run >= len(self._runs) or self._downloads >= self._limit:
                    self._over = True
                    break
                return ChunkListing(str(self._runs[at.run]["id"]), at.page)
            if self._index < len(self._chunks):
                return ChunkDownload(str(self._chunks[self._index]["chunk_url"]), self._bearer)
            # This listing is read to its end: on to its next page, the next run, or stop.
            self._chunks = None
            if self._following:
                self.cursor = LogCursor(at.run, self._following, 0, 0)
            elif at.run < len(self._runs) - 1:  # a later run exists: this one is over
                self.cursor = LogCursor(at.run + 1, None, 0, 0)
            else:
                self.done = self._terminal
                self._over = True
        return None

    def listed(self, page: Mapping[str, Any]) -> None:
        """The answer to the :class:`ChunkListing` :meth:`next` asked for."""
        self._chunks = page.get("log_chunks") or []
        self._bearer = page.get("bearer_token")
        self._following = str(page["next_page_token"]) if page.get("next_page_token") else None
        self._index = self.cursor.chunk

    def downloaded(self, text: str) -> None:
        """The text (:func:`decode_chunk`) of the :class:`ChunkDownload` :meth:`next` asked
        for."""
        if self._chunks is None:
            raise RuntimeError("downloaded() answers a ChunkDownload of next()")
        at, index = self.cursor, self._index
        last = index == len(self._chunks) - 1 and not self._following
        closed = not last or self._run_done()
        self._downloads += 1
        skip = at.lines if index == at.chunk else 0
        new, read = chunk_lines(text, skip=skip, final=closed)
        self.lines.extend(new)
        if not closed:  # the run's open last chunk: read again from this line next time
            self.cursor = LogCursor(at.run, at.page, index, read)
            self._over = True
            return
        self.cursor = LogCursor(at.run, at.page, index + 1, 0)
        self._index = index + 1
        if self._downloads >= self._limit:
            self._over = True
