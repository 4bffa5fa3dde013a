"""The core imports no channel library: a tool checks the rule, not a promise."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("aiogram", "pywa", "pywa_async", "bot.channels.telegram", "bot.channels.whatsapp", "fastapi")
CORE = ["bot/domain", "bot/services", "handlers", "scheduler"]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder", CORE)
def test_core_never_imports_a_channel_library(folder: str) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imports_of(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert not offenders, offenders


def test_domain_does_no_io() -> None:
    for path in (ROOT / "bot/domain").rglob("*.py"):
        names = imports_of(path)
        assert not {n for n in names if n.startswith(("sqlalchemy", "bot.storage", "httpx", "aiohttp"))}, path
