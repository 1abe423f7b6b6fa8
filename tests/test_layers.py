"""The import contracts of .importlinter (layers, the product apart from the lab, no cycles) hold: `lint-imports` run
from the repository root exits 0. app.py, a lone module import-linter cannot take as a root package, is checked here."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAB = ("matcher.lab", "pipelines.lab", "pipelines.main")


def _lint_imports() -> str:
    pytest.importorskip("importlinter", reason="import-linter is a dev dependency: pip install -e '.[dev]'")
    beside = Path(sys.executable).parent / "lint-imports"
    return str(beside) if beside.is_file() else shutil.which("lint-imports") or pytest.skip("lint-imports not found")


def test_import_contracts_are_kept():
    result = subprocess.run([_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_the_workbench_entry_point_imports_no_lab_code():
    imported: list[str] = []
    for node in ast.walk(ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
        elif isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
    assert any(name.startswith("matcher.workbench") for name in imported)
    assert not [name for name in imported if name.startswith(LAB)]
