"""Deterministic zips of local working dirs for Ray's packages API.

Ray accepts only URIs over REST (``reference/ray.md`` §5), so a local ``working_dir`` is
zipped and uploaded as ``gcs://<name>``. The zip is byte-for-byte reproducible — entries
sorted, fixed timestamps, normalised permissions — and named after its SHA-256, so the
same folder always gives the same package and a second submit uploads nothing.

What is left out is what ``ray job submit`` leaves out: files matched by a ``.gitignore``
(unless ``gitignore=False``, Ray's ``RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1``) or a
``.rayignore`` in their folder or above it, and by ``runtime_env["excludes"]`` (patterns
relative to the working dir); each ignore file counts on its own, as in Ray, so a ``!``
pattern in one cannot bring back what another leaves out. Also ``.git``, ``__pycache__``
and ``*.pyc``.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from jobrelay.errors import ConfigError

__all__ = ["MAX_PACKAGE_BYTES", "Package", "package_dir", "package_module"]

MAX_PACKAGE_BYTES = 100 * 1024 * 1024  # the dashboard's request body limit
SKIPPED = frozenset({".git", "__pycache__"})
IGNORE_FILES = (".gitignore", ".rayignore")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can store


@dataclass(frozen=True)
class Package:
    """A zipped working dir: its bytes and its content-addressed package name."""

    name: str
    data: bytes

    @property
    def uri(self) -> str:
        return f"gcs://{self.name}"


@dataclass(frozen=True)
class _Rules:
    """Ignore patterns and the folder (relative to the root, "" for it) they apply below."""

    base: str
    spec: GitIgnoreSpec

    @classmethod
    def parse(cls, base: str, lines: Sequence[str], source: str) -> _Rules:
        try:
            return cls(base, GitIgnoreSpec.from_lines(lines))
        except (TypeError, ValueError) as exc:  # pathspec's pattern errors are ValueErrors
            raise ConfigError(
                f"bad ignore pattern in {source}: {exc}", field="working_dir"
            ) from exc

    def ignores(self, rel: str, is_dir: bool) -> bool:
        below = rel[len(self.base) + 1 :] if self.base else rel
        return self.spec.match_file(below + "/" if is_dir else below)


def _rules_in(folder: Path, rel: str, names: Sequence[str]) -> list[_Rules]:
    found = []
    for name in names:
        file = folder / name
        if file.is_file():
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            found.append(_Rules.parse(rel, lines, str(file)))
    return found


def _entries(root: Path, excludes: Sequence[str], gitignore: bool) -> list[tuple[str, Path | None]]:
    """(archive name, file or None for a folder), sorted, without what is left out."""
    names = IGNORE_FILES if gitignore else IGNORE_FILES[1:]
    top = [_Rules.parse("", excludes, "runtime_env['excludes']")] if excludes else []
    inherited: dict[str, list[_Rules]] = {"": top}
    entries: list[tuple[str, Path | None]] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        rel = base.relative_to(root).as_posix().removeprefix(".")
        rules = inherited.pop(rel) + _rules_in(base, rel, names)

        def kept(name: str, is_dir: bool, rel: str = rel, rules: list[_Rules] = rules) -> bool:
            path = f"{rel}/{name}" if rel else name
            return not any(r.ignores(path, is_dir) for r in rules)

        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and kept(d, True))
        inherited.update({(f"{rel}/{d}" if rel else d): rules for d in dirs})
        if rel:
            entries.append((rel + "/", None))
        for name in sorted(files):
            if name in SKIPPED or name.endswith(".pyc") or not kept(name, False):
                continue
            path = base / name
            if path.is_file():  # a dangling symlink or a socket is not content
                entries.append((path.relative_to(root).as_posix(), path))
    return sorted(entries)


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # unix, so the permission bits below are honoured
    info.external_attr = mode << 16
    if not name.endswith("/"):
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def package_dir(
    path: str | Path,
    *,
    excludes: Sequence[str] = (),
    gitignore: bool = True,
    limit: int = MAX_PACKAGE_BYTES,
    field: str = "working_dir",
    under_own_name: bool = False,
) -> Package:
    """Zip the folder at ``path`` reproducibly, leaving out what Ray would (see above).

    ``under_own_name`` puts the folder itself at the zip's root (``pkg/__init__.py``), as
    Ray wants a ``py_modules`` folder. Raises ``ConfigError`` (on ``field``) if the folder
    does not exist, an ignore pattern is malformed, or the zip would exceed ``limit`` bytes
    (Ray's dashboard refuses larger uploads).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{str(root)!r} is not a folder on this machine", field=field)
    entries = _entries(root, excludes, gitignore)
    if under_own_name:
        entries = [(f"{root.name}/", None)] + [(f"{root.name}/{n}", f) for n, f in entries]
    return _zip(entries, root, limit, field)


def package_module(
    path: str | Path,
    *,
    excludes: Sequence[str] = (),
    gitignore: bool = True,
    limit: int = MAX_PACKAGE_BYTES,
) -> Package:
    """A local ``py_modules`` entry packed as Ray's SDK packs it.

    A folder is zipped under its own name, a ``.py`` file alone; a wheel goes as it is,
    named by its file name as Ray names it (Ray caches packages by name: a rebuilt wheel
    needs a new version). Anything else is a ``ConfigError`` on ``runtime_env.py_modules``.
    """
    field = "runtime_env.py_modules"
    module = Path(path).expanduser()
    if module.is_dir():
        return package_dir(
            module,
            excludes=excludes,
            gitignore=gitignore,
            limit=limit,
            field=field,
            under_own_name=True,
        )
    if module.is_file() and module.suffix == ".py":
        return _zip([(module.name, module)], module, limit, field)
    if module.is_file() and module.suffix == ".whl":
        data = module.read_bytes()
        if len(data) > limit:
            raise ConfigError(f"{str(module)!r} is over the {limit}-byte upload limit", field=field)
        return Package(name=module.name, data=data)
    raise ConfigError(
        f"{str(module)!r} is not a folder, a .py file or a .whl file on this machine",
        field=field,
    )


def _zip(entries: list[tuple[str, Path | None]], source: Path, limit: int, field: str) -> Package:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compresslevel=6) as archive:
        for name, file in entries:
            if file is None:
                archive.writestr(_info(name, stat.S_IFDIR | 0o755), b"")
                continue
            executable = os.access(file, os.X_OK)
            info = _info(name, stat.S_IFREG | (0o755 if executable else 0o644))
            with file.open("rb") as reader, archive.open(info, "w") as target:
                shutil.copyfileobj(reader, target, 1024 * 1024)
            if buffer.tell() > limit:
                raise ConfigError(
                    f"{str(source)!r} zips to more than {limit // (1024 * 1024)} MiB, the most "
                    "a Ray dashboard accepts; leave large data out (list it in .rayignore, "
                    ".gitignore or runtime_env['excludes']) and read it from storage (e.g. "
                    "pass its URI in env)",
                    field=field,
                )
    data = buffer.getvalue()
    if len(data) > limit:
        raise ConfigError(
            f"{str(source)!r} zips to {len(data)} bytes, over the {limit}-byte Ray upload limit",
            field=field,
        )
    digest = hashlib.sha256(data).hexdigest()
    return Package(name=f"jobrelay_{digest[:32]}.zip", data=data)
