"""The package's shape, read from its source: imports run one way, only the
CLI speaks click, the core never prints, no bare ``except``, and no module
outgrows what one person can hold in their head.

These rules are easy to break by accident in a one-line change and hard to
notice in review; reading the source with ``ast`` keeps them honest.  Imports
inside functions (the lazy ones) count too: a cycle hidden in a function is
still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "healthkb"

# Lower layers never import higher ones (SPEC-independent: the project's own
# layering).  A module not named here is checked only for cycles.
LAYERS = {
    "text": 0, "errors": 0, "data": 0,
    "article": 1, "render": 1, "vocabulary_text": 1,
    "titles": 2, "synonyms": 2, "reader": 2,
    "links": 3, "corpus": 3, "files": 3,
    "kb": 4, "checks": 4, "freshness": 4, "adding": 4, "exporting": 4, "screenreader": 4,
    "query": 5, "index": 5,
    "cli": 6, "__main__": 7,
}
MAX_LINES = 420  # "about 400 lines at most"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text("utf-8"), str(path)) for name, path in MODULES.items()}


def _imports(name: str) -> set[str]:
    """The healthkb modules ``name`` imports, anywhere in its body."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("healthkb"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.startswith("healthkb"):
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_no_module_imports_itself_back_through_others():
    # Tarjan's strongly connected components: any component of two or more
    # modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(MODULES):
        if name not in index:
            visit(name)
    assert cycles == []


def test_imports_run_down_the_layers():
    upward = []
    for name, targets in GRAPH.items():
        mine = _layer(name)
        for target in targets:
            theirs = _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_every_module_has_a_layer():
    assert sorted({n.split(".")[1] for n in MODULES if "." in n} - set(LAYERS)) == []


def _names_imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("healthkb.cli")))
def test_only_the_cli_speaks_click_or_prints(name):
    tree = TREES[name]
    assert "click" not in _names_imported(tree)
    prints = [node.lineno for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert prints == [], f"{name} prints (core functions return data)"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_bare_except_and_a_docstring_saying_what_the_module_owns(name):
    tree = TREES[name]
    bare = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler) and node.type is None]
    assert bare == []
    if MODULES[name].read_text("utf-8").strip():
        assert ast.get_docstring(tree), f"{name} has no docstring"


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any(getattr(d, "id", None) == "dataclass" or getattr(getattr(d, "func", None), "id", None) == "dataclass"
               for d in node.decorator_list)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_dataclass_says_what_it_holds(name):
    # Also what keeps start-up lean: dataclasses writes a docstring for a
    # class without one through inspect, which the entry point defers
    # (query/startup.py), and ~5 ms of imports would come back.
    missing = [node.name for node in ast.walk(TREES[name])
               if isinstance(node, ast.ClassDef) and _is_dataclass(node) and not ast.get_docstring(node)]
    assert missing == [], f"{name}: dataclasses without a docstring"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = MODULES[name].read_text("utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines"
