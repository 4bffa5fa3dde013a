"""The import contracts in pyproject.toml hold, and they catch what they promise to catch.

`lint-imports` also runs in `.ci/run`; these tests copy the tree, plant one forbidden import, and
check that the tool then fails (the old hand-written check missed both plants).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT)], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for folder in ("bot", "handlers", "scheduler"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "lint", tmp_path / "tests" / "lint")
    (tmp_path / "tests" / "__init__.py").write_text("")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(path: Path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + code + "\n", encoding="utf-8")


def test_the_contracts_hold_on_this_tree(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_service_importing_an_adapter_breaks_a_contract(tree: Path) -> None:
    plant(tree / "bot/services/agenda/issues.py", "from bot.channels import telegram  # noqa")
    result = lint(tree)
    assert result.returncode != 0
    assert "Services import no channel adapter" in result.stdout
    assert "bot.services.agenda.issues -> bot.channels.telegram" in result.stdout


def test_the_domain_importing_storage_inside_a_function_breaks_a_contract(tree: Path) -> None:
    plant(tree / "bot/domain/agenda.py", "def _sneaky() -> None:\n    from bot.storage import models  # noqa")
    result = lint(tree)
    assert result.returncode != 0
    assert "The domain is pure" in result.stdout


def test_a_cycle_through_two_packages_and_a_function_level_import_is_found(tree: Path) -> None:
    # handlers import the conversation layer; the conversation layer importing a handler closes a circle.
    plant(tree / "bot/conversation.py", "def _late() -> None:\n    from handlers import core  # noqa")
    result = lint(tree)
    assert result.returncode != 0
    assert "import each other in a circle" in result.stdout
    assert "bot.conversation" in result.stdout and "handlers.core" in result.stdout


def test_a_lower_feature_reaching_up_breaks_the_services_order(tree: Path) -> None:
    # The agenda stands below the escalation it feeds; a use of escalation from the agenda would let
    # the two grow into one, even with no module cycle yet.
    late = "def _late() -> None:\n    from bot.services.escalation import board  # noqa"
    plant(tree / "bot/services/agenda/issues.py", late)
    result = lint(tree)
    assert result.returncode != 0
    assert "The services' features stand in one order" in result.stdout
    assert "bot.services.agenda.issues -> bot.services.escalation.board" in result.stdout


def test_a_feature_package_left_out_of_the_order_breaks_it(tree: Path) -> None:
    (tree / "bot/services/newfeature").mkdir()
    (tree / "bot/services/newfeature/__init__.py").write_text('"""A feature nobody placed."""\n')
    result = lint(tree)
    assert result.returncode != 0
    assert "newfeature" in result.stdout
