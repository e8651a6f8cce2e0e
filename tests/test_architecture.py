"""The floor plan is enforced: import-linter's contracts (pyproject.toml) and the import graph's numbers."""

from __future__ import annotations

import ast
import os
import re
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


_THAI = re.compile("[\u0e00-\u0e7f]")
_POLITE = re.compile("[\u0e00-\u0e7f](?:ครับ|ค่ะ)")  # a polite ending on a word: a sentence, not a particle list
_PATTERN = re.compile(r"\(\?|\\[sdwb]|\[[^\]]*-[^\]]*\]")  # (?: \s [ก-๙]: a regular expression


def _thai_sentences(path: Path) -> list[str]:
    """Thai sentences a storage module builds: f-strings with Thai words, or polite Thai phrases that are not word lists.

    Thai that storage reads (regular expressions, particle and stop-word lists) and stores as data
    (agency names, statistics cells, masking placeholders) is allowed; docstrings and comments are not code.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            literal = "".join(part.value for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str))
            if _THAI.search(literal) and not _PATTERN.search(literal):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} f-string {literal[:40]!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if _POLITE.search(text) and "|" not in text and not _PATTERN.search(text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} sentence {text[:40]!r}")
    return found


def test_storage_returns_data_not_thai_sentences() -> None:
    """Wording belongs to the feature that says it (common/wording/<feature>.py); storage returns and stores data."""
    found = [hit for path in sorted((ROOT / "storage").rglob("*.py")) for hit in _thai_sentences(path)]
    assert not found, "\n".join(found)


def test_the_sentence_check_finds_sentences() -> None:
    sample = ROOT / "tests" / "_wording_sample.py"
    sample.write_text('"""เอกสาร ครับ"""\nA = "ส่งเรื่องแล้วครับ รอสักครู่"\nB = f"คำร้อง {A}"\nC = r"(ครับ|ค่ะ)"\nD = "บริการอื่น ๆ"\n'
                      'E = "ครับ ค่ะ นะ"\nF = rf"(?:มาตรา{C})"\n',
                      encoding="utf-8")
    try:
        assert [hit.split(" ", 1)[1].split(" ")[0] for hit in _thai_sentences(sample)] == ["sentence", "f-string"]
    finally:
        sample.unlink()
