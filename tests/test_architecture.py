"""The floor plan is enforced: import-linter's contracts (pyproject.toml) and the import graph's numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(180)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=170, check=False)


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = _run(str(lint_imports), "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
    for contract in ("Layers", "The engine", "The app never imports the engine", "Storage sits below", "The ground floor", "action server's SDK",
                     "circles"):
        assert contract in result.stdout  # every contract was checked, none silently dropped


def test_the_import_graph_has_no_upward_imports_and_no_circles() -> None:
    result = _run(sys.executable, "scripts/import_graph.py")
    assert result.returncode == 0, result.stderr
    figures = dict(line.rsplit(":", 1) for line in result.stdout.splitlines() if ":" in line and not line.startswith(" "))
    figures = {name.strip(): int(value) for name, value in figures.items()}
    assert figures["upward imports (by layer)"] == 0
    assert figures["upward imports (by top package)"] == 0
    assert figures["import circles (modules)"] == 0
    assert figures["import circles (top packages)"] == 0


APP_PACKAGES = ("common", "storage", "actions", "usecases", "connectors", "bot")
NOT_IMPORTED_HERE = ("bot.nlu.thai_tokenizer", "bot.rasa_channel", "storage.migrations")  # engine runtime; Alembic's scripts


def test_every_app_module_imports() -> None:
    """A module moved without its importers updated fails here, even when the import sits in a function body."""
    import importlib
    import pkgutil

    failures = []
    for package in APP_PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if info.name.startswith(NOT_IMPORTED_HERE):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - collect them all
                failures.append(f"{info.name}: {exc!r}")
    assert failures == []


def test_every_project_import_names_an_existing_module() -> None:
    """Also the imports inside functions and in tests: after a move, a stale path fails here, not in production."""
    import ast
    import importlib.util

    stale = []
    for folder in (*APP_PACKAGES, "engine", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level \
                        and node.module.split(".")[0] in (*APP_PACKAGES, "engine", "tests"):
                    if importlib.util.find_spec(node.module) is None:
                        stale.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
    assert stale == []


def test_the_architecture_picture_is_generated_from_the_current_code() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    graph = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graph)
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{graph.mermaid(graph.collect())}\n```" in doc, "run: python scripts/import_graph.py --write-doc"
