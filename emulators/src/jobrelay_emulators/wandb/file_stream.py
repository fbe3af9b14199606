"""The run file stream (``POST /files/{entity}/{project}/{run}/file_stream``) as the wandb SDK
uses it: history rows, the summary, system events and console output while the run is alive,
then ``complete`` with the exit code.

Each entry of ``files`` is ``{"offset": N, "content": [line, ...]}``: the lines replace the
file's lines from line ``N`` on (console output is rewritten in place, as a terminal is).
``wandb-summary.json``'s last line is the whole summary. Body keys the emulator does not model
are listed in :data:`IGNORED_KEYS` and accepted.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from jobrelay_emulators.wandb.state import RunRecord, World, now_iso

__all__ = ["IGNORED_KEYS", "apply_file_stream"]

log = logging.getLogger("jobrelay_emulators.wandb")

HISTORY, SUMMARY, EVENTS = "wandb-history.jsonl", "wandb-summary.json", "wandb-events.jsonl"
# Keys of a file-stream body the emulator accepts and ignores on purpose: ``uploaded`` names
# run files already sent through ``createRunFiles`` (the emulator has them), ``dropped`` counts
# lines the client dropped under back-pressure.
IGNORED_KEYS = frozenset({"uploaded", "dropped"})
MODELLED_KEYS = frozenset({"files", "complete", "exitcode", "preempting"})


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _write(world: World, run: RunRecord, name: str, offset: int, content: list[str]) -> None:
    if name not in run.stream_base:
        # Lines the launch agent captured before the SDK attached stay ahead of the SDK's.
        existing = world.blobs.get(world.run_file(run, name).storage_path, b"")
        run.stream_lines[name] = existing.decode(errors="replace").splitlines()
        run.stream_base[name] = len(run.stream_lines[name])
    lines = run.stream_lines[name]
    start = run.stream_base[name] + max(0, offset)
    if len(lines) < start:
        lines.extend([""] * (start - len(lines)))
    lines[start : start + len(content)] = [str(line).rstrip("\n") for line in content]
    if name == HISTORY:
        run.history = _json_lines(lines)
    elif name == EVENTS:
        run.events = _json_lines(lines)
    elif name == SUMMARY and content:
        summary = _json_lines([content[-1]])
        if summary:
            run.summary = summary[0]
    data = "".join(f"{line}\n" for line in lines).encode()
    world.blobs[world.run_file(run, name).storage_path] = data
    run.files[name].updated_at = now_iso()


def apply_file_stream(world: World, run: RunRecord, body: dict[str, Any]) -> list[str]:
    """Apply one file-stream post to ``run``; returns the body keys it ignored."""
    ignored = sorted(set(body) - MODELLED_KEYS)
    unknown = set(ignored) - IGNORED_KEYS
    if unknown:
        log.warning("file_stream: ignoring keys the emulator does not model: %s", sorted(unknown))
    with world.lock:
        for name, chunk in (body.get("files") or {}).items():
            if not isinstance(chunk, dict):
                continue
            _write(world, run, str(name), int(chunk.get("offset") or 0), chunk.get("content") or [])
        run.heartbeat_at = now_iso()
        if body.get("preempting") and run.state == "running":
            run.state = "preempting"
        if body.get("complete"):
            code = int(body.get("exitcode") or 0)
            world.finish_run(run, "finished" if code == 0 else "failed", code)
    return ignored
