"""Every built-in platform has one shape: ``payloads.py`` (pure), ``platform.py`` (the awaits)
and ``settings.py`` (what a user gives), so a reader finds the same thing in the same place."""

from __future__ import annotations

import ast
from pathlib import Path

import jobrelay.platforms
import pytest

PLATFORMS_DIR = Path(jobrelay.platforms.__file__).parent
PLATFORMS = ("anyscale", "fused", "local", "ray", "wandb")
SHAPE = ("payloads.py", "platform.py", "settings.py")
# Modules a pure payload module must not import: network, event loops, our HTTP layer.
IO_MODULES = ("httpx", "asyncio", "anyio", "jobrelay.http", "socket", "urllib.request")


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth of the file
    (an import inside a function is an import too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def io_imports(source: str) -> list[str]:
    return sorted(
        name
        for name in imported_modules(source)
        if any(name == io or name.startswith(io + ".") for io in IO_MODULES)
    )


def test_every_platform_folder_is_listed() -> None:
    # A new platform folder must join PLATFORMS (and so this shape), not slip past it.
    folders = {
        path.name
        for path in PLATFORMS_DIR.iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }
    assert folders == set(PLATFORMS)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_platform_has_payloads_platform_and_settings(platform: str) -> None:
    missing = [name for name in SHAPE if not (PLATFORMS_DIR / platform / name).is_file()]
    assert missing == [], f"{platform} lacks {missing}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_payloads_import_no_io(platform: str) -> None:
    source = (PLATFORMS_DIR / platform / "payloads.py").read_text()
    assert io_imports(source) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_settings_model_lives_in_settings(platform: str) -> None:
    # The model the registry validates options with is defined in the platform's settings.py.
    from jobrelay.platforms.registry import settings_model

    model = settings_model(platform)
    assert model.__module__ == f"jobrelay.platforms.{platform}.settings"
    assert model.__name__ == f"{platform.capitalize()}Settings"


def test_the_import_check_sees_io_at_any_depth() -> None:
    # The checker itself: an I/O import hidden in a function, or a from-import, is found.
    source = "import json\ndef f():\n    import httpx\nfrom jobrelay.http import HttpSession\n"
    assert io_imports(source) == ["httpx", "jobrelay.http", "jobrelay.http.HttpSession"]
    assert io_imports("from jobrelay import http\n") == ["jobrelay.http"]
    assert io_imports("import json\nfrom jobrelay.models import JobRef\n") == []
