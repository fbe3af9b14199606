"""The stores layer knows no platform: no module under ``jobrelay.artifacts`` imports one or
names one in a string that code could import (import-linter sees only the imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import jobrelay.artifacts

ARTIFACTS = Path(jobrelay.artifacts.__file__).parent


def _code_strings(tree: ast.Module) -> list[str]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_artifacts_module_names_a_platform_module() -> None:
    modules = sorted(ARTIFACTS.rglob("*.py"))
    assert len(modules) > 5  # the check reads the real package
    named = {
        f"{path.name}: {text!r}"
        for path in modules
        for text in _code_strings(ast.parse(path.read_text()))
        if "jobrelay.platforms" in text or "platforms/" in text
    }
    assert not named
