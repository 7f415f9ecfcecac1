"""engine/ keeps its shape: no import cycle, packages import one way, no module past 400 lines.

The imports are read with `ast` (every `import` and `from ... import`, at module level or inside a function,
under TYPE_CHECKING too), so a cycle worked around with a late import still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"
# Lower first: a package may import the foundation modules and the packages before it, never one after it.
LAYERS = ["accounts", "workflow", "events", "instances", "reads", "usecases"]
FOUNDATION = {"engine.models", "engine.db", "engine.schema", "engine.errors", "engine.vocabulary", "engine.days"}
ENTRY_POINTS = {"engine.cli", "engine.demo"}
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ENGINE.rglob("*.py")}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the engine modules it imports (a `from package import module` names the module)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                for alias in node.names:
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
        graph[module] = {m for m in found if m in modules and m != module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[module] = 2
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_there_is_no_import_cycle_among_engine_modules():
    cycle = _cycle(_imports(_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_sees_a_cycle_made_with_a_late_import():
    graph = {"engine.a": {"engine.b"}, "engine.b": {"engine.c"}, "engine.c": {"engine.a"}}
    assert _cycle(graph) == ["engine.a", "engine.b", "engine.c", "engine.a"]


def test_packages_import_only_the_foundation_and_the_packages_below_them():
    wrong = []
    for module, targets in _imports(_modules()).items():
        if module in ENTRY_POINTS or module == "engine":
            continue
        mine = _layer(module)
        for target in targets:
            theirs = _layer(target)
            if target in ENTRY_POINTS:
                wrong.append(f"{module} imports the entry point {target}")
            elif theirs is not None and (mine is None or theirs > mine):
                wrong.append(f"{module} imports {target}, a layer above it")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_engine_module_is_in_a_package_or_named_as_foundation_or_entry_point():
    loose = {m for m in _modules() if m.count(".") == 1 and _layer(m) is None}
    assert loose <= FOUNDATION | ENTRY_POINTS | set(f"engine.{p}" for p in LAYERS)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_module_passes_400_lines(module):
    lines = len(_modules()[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by concept"


def test_each_package_says_what_belongs_there():
    for package in LAYERS:
        doc = ast.get_docstring(ast.parse((ENGINE / package / "__init__.py").read_text()))
        assert doc and len(doc) > 40, f"engine/{package}/__init__.py needs a docstring saying what it holds"
