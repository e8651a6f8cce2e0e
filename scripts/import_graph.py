"""Print the project's internal import graph in numbers, read from the code's AST.

    python scripts/import_graph.py            # summary: imports, in-function imports, upward, circles
    python scripts/import_graph.py --list     # also every in-function and upward import
    python scripts/import_graph.py --mermaid  # a Mermaid diagram of the package graph (docs/architecture.md)

Nothing is imported or executed: every ``*.py`` file under the project packages is parsed.
A module's layer comes from the longest matching prefix in ``LAYERS``; the legacy paths of the
floor-plan move (``bot.settings`` ...) are listed too, so the same script measures the tree before
and after. An import is *upward* when it goes to a higher layer, or between two layers that must
not know each other (the engine and the app).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "engine", "storage", "actions", "usecases", "connectors", "bot")

# Layer rank per module prefix (longest prefix wins). Lower ranks may not import higher ones.
# The engine (rank 1) and the app (ranks >= 2 except the ground floor) must not import each other.
LAYERS: dict[str, int] = {
    "common": 0,
    "engine": 1,
    "storage": 2,
    "actions": 3,
    "usecases": 3,
    "connectors": 4,
    "bot": 5,
    # legacy locations (before the floor plan), measured where they belong
    "bot.settings": 0,
    "bot.thai_datetime": 0,
    "bot.replies": 0,
    "bot.nlu.thai_text": 0,
    "bot.nlu": 1,
    "bot.rasa_channel": 1,
    "connectors.admin_commands": 3,
    "connectors.request_commands": 3,
}
LAYER_NAMES = {0: "ground floor", 1: "engine", 2: "storage", 3: "actions/use-cases", 4: "connectors", 5: "top"}
# Same-rank packages that must stay independent of each other.
INDEPENDENT = [("actions", "usecases")]
# Shim modules kept at old paths only so trained models / credentials.yml still load.
SHIMS = {"bot.nlu.thai_tokenizer", "bot.rasa_channel"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, rank = "", None
    for prefix, r in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best, rank = prefix, r
    return -1 if rank is None else rank


def top_package(module: str) -> str:
    return module.split(".")[0]


class Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package = module, is_package
        self.depth = 0
        self.type_checking = 0
        self.found: list[tuple[str, int, bool]] = []  # (target, line, in_function)

    def _scoped(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        if test in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _add(self, target: str, line: int) -> None:
        if top_package(target) in PACKAGES:  # TYPE_CHECKING imports count: they tie the graph too
            self.found.append((target, line, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not self.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        # "from pkg import submodule" imports the submodule
        for alias in node.names:
            candidate = f"{target}.{alias.name}"
            self._add(candidate if candidate in MODULES else target, node.lineno)


MODULES: set[str] = set()


def collect() -> list[tuple[str, str, int, bool]]:
    files = [p for pkg in PACKAGES if (ROOT / pkg).is_dir() for p in sorted((ROOT / pkg).rglob("*.py"))]
    MODULES.update(module_name(p) for p in files)
    edges = []
    for path in files:
        module = module_name(path)
        visitor = Visitor(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for target, line, in_function in visitor.found:
            resolved = target
            while resolved not in MODULES and "." in resolved:
                resolved = resolved.rsplit(".", 1)[0]
            if resolved != module:
                edges.append((module, resolved, line, in_function))
    return sorted(set(edges))  # one edge per (module, target, line)


def is_upward(src: str, dst: str) -> bool:
    a, b = layer_of(src), layer_of(dst)
    if src in SHIMS:  # a shim re-exports its new home on purpose
        return False
    if a == 1 and b > 1 or b == 1 and a > 1:  # the engine and the app never import each other
        return True
    pa, pb = top_package(src), top_package(dst)
    if a == b and ((pa, pb) in INDEPENDENT or (pb, pa) in INDEPENDENT):
        return True
    return b > a


PACKAGE_RANK = {"common": 0, "engine": 1, "storage": 2, "actions": 3, "usecases": 3, "connectors": 4, "bot": 5}


def is_upward_by_package(src: str, dst: str) -> bool:
    """The coarse view: top-level packages only (bot counts as the top, whatever it holds)."""
    if src in SHIMS:
        return False
    a, b = PACKAGE_RANK[top_package(src)], PACKAGE_RANK[top_package(dst)]
    return b > a or (a == 1) != (b == 1) and min(a, b) > 0


def cycles(edges) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph = defaultdict(set)
    for src, dst, _, _ in edges:
        graph[src].add(dst)
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def package_of(module: str) -> str:
    """The unit drawn in the diagram: the top package, with bot's sub-packages apart."""
    if module in SHIMS:
        return "shims"
    parts = module.split(".")
    if parts[0] == "bot" and len(parts) > 1 and parts[1] in ("commands", "scheduler", "nlu_admin", "nlu"):
        return ".".join(parts[:2])
    return parts[0]


DIAGRAM_GROUPS = [  # (subgraph title, units), top to bottom
    ("top: CLI, scheduler, admin tool (app runtime)", ["bot", "bot.commands", "bot.scheduler", "bot.nlu_admin"]),
    ("adapters: gateway, LINE, Telegram, web chat", ["connectors"]),
    ("use-cases outside Rasa | Rasa custom actions", ["usecases", "actions"]),
    ("storage: SQLAlchemy models and services", ["storage"]),
    ("ground floor: settings, Thai text and dates, reply cards, ids (both runtimes)", ["common"]),
    ("engine: runs inside Rasa, .venv-rasa", ["engine", "shims"]),
]
SHIM_LABEL = "bot.nlu.thai_tokenizer, bot.rasa_channel (old-path shims for trained models)"
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- import-graph:begin (scripts/import_graph.py --write-doc) -->", "<!-- import-graph:end -->"


def mermaid(edges) -> str:
    """The package graph as Mermaid: one arrow per package pair that imports, whatever the count."""
    pairs = sorted({(package_of(s), package_of(d)) for s, d, _, _ in edges} - {(u, u) for u in PACKAGE_UNITS(edges)})
    node = lambda unit: unit.replace(".", "_")  # noqa: E731
    lines = ["flowchart TD"]
    for i, (title, units) in enumerate(DIAGRAM_GROUPS):
        lines.append(f'    subgraph L{i}["{title}"]')
        lines += [f'        {node(u)}["{SHIM_LABEL if u == "shims" else u}"]' for u in units]
        lines.append("    end")
    for src, dst in pairs:
        style = "-.->" if src == "shims" else "-->"
        lines.append(f"    {node(src)} {style} {node(dst)}")
    return "\n".join(lines)


def PACKAGE_UNITS(edges) -> set[str]:  # noqa: N802 - reads as a constant set at the call site
    return {package_of(s) for s, _, _, _ in edges} | {package_of(d) for _, d, _, _ in edges}


def write_doc(edges) -> bool:
    """Put the current diagram into docs/architecture.md; True when it changed."""
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    block = f"\n```mermaid\n{mermaid(edges)}\n```\n"
    if text[start:end] == block:
        return False
    DOC.write_text(text[:start] + block + text[end:], encoding="utf-8")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list in-function and upward imports")
    parser.add_argument("--mermaid", action="store_true", help="print a Mermaid diagram of the package graph")
    parser.add_argument("--write-doc", action="store_true", help="refresh the diagram in docs/architecture.md")
    args = parser.parse_args()
    edges = collect()
    if args.mermaid:
        print(mermaid(edges))
        return 0
    if args.write_doc:
        print("docs/architecture.md " + ("updated" if write_doc(edges) else "already current"))
        return 0
    inner = [e for e in edges if e[3]]
    upward = [e for e in edges if is_upward(e[0], e[1])]
    upward_pkg = [e for e in edges if is_upward_by_package(e[0], e[1])]
    circles = cycles(edges)
    pkg_edges = [(top_package(s), top_package(d), 0, False) for s, d, _, _ in edges if s not in SHIMS]
    pkg_circles = cycles([e for e in pkg_edges if e[0] != e[1]])
    print(f"internal imports:                 {len(edges)}")
    print(f"in-function imports:              {len(inner)}")
    print(f"upward imports (by layer):        {len(upward)}")
    print(f"upward imports (by top package):  {len(upward_pkg)}")
    print(f"import circles (modules):         {len(circles)}")
    for comp in circles:
        print("  circle: " + " <-> ".join(comp))
    print(f"import circles (top packages):    {len(pkg_circles)}")
    for comp in pkg_circles:
        print("  circle: " + " <-> ".join(comp))
    if args.list:
        print("\nupward by top package:")
        for src, dst, line, _ in upward_pkg:
            print(f"  {src}:{line} -> {dst}")
    if args.list:
        for title, rows in (("upward", upward), ("in-function", inner)):
            print(f"\n{title}:")
            for src, dst, line, _ in rows:
                print(f"  {src}:{line} -> {dst}  ({LAYER_NAMES.get(layer_of(src))} -> {LAYER_NAMES.get(layer_of(dst))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
