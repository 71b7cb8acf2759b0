"""The package's house rules, read from its source: imports point down the layers, no module imports
itself back through another, commands stay thin and functions stay short enough to read.

Every import counts, at module level, inside a function or under ``TYPE_CHECKING``: a lazy import
still ties the two modules together. The layers, bottom first, are ``LAYERS`` below; ARCHITECTURE.md
draws the same map.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlops_gitops

PACKAGE = Path(mlops_gitops.__file__).parent
NAME = "mlops_gitops"

# Bottom first. A module may import its own group or any group listed before it, never one after.
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["mlops_gitops", "errors", "names", "locks"]),
    ("adapters", ["adapters"]),
    ("core: manifest", ["manifest"]),
    ("core: pipeline", ["pipeline"]),
    ("core: data", ["data"]),
    ("core: metrics", ["metrics"]),
    ("core: reporters", ["reporters"]),
    ("core: render", ["render"]),
    ("flow: generation", ["generation"]),
    ("flow: adoption", ["adoption"]),
    ("flow: planning", ["planning"]),
    ("flow: reporting", ["reporting"]),
    ("flow: delivery", ["delivery"]),
    ("flow: monitoring", ["monitoring"]),
    ("commands", ["commands", "demo"]),
    ("entry", ["cli", "__main__"]),
]
COMMAND_LINES = 60
FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The package's modules ``module`` imports, with the line of each import."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_package else -1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from pkg import sub` imports the submodule; `from pkg import name` the package.
            subs = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in known]
            names = subs or [source]
        else:
            continue
        for name in names:
            if name in known and name != module:
                yield name, node.lineno


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {m: dict(imported(m, path, known)) for m, path in known.items()}


def layer_of(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else parts[0]
    for index, (_, tops) in enumerate(LAYERS):
        if key in tops:
            return index
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS (and to ARCHITECTURE.md)")


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_has_a_layer() -> None:
    for module in modules():
        layer_of(module)


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_no_import_points_up() -> None:
    known = modules()
    upward = [
        f"{known[m].relative_to(PACKAGE.parent)}:{line}: {m} ({LAYERS[layer_of(m)][0]}) imports "
        f"{target} ({LAYERS[layer_of(target)][0]})"
        for m, targets in graph().items()
        for target, line in targets.items()
        if layer_of(target) > layer_of(m)
    ]
    assert upward == []


def test_adapters_import_nothing_above_them() -> None:
    """Named on its own because it is the rule the brief states: git, DVC and GitHub behind thin
    adapters that import nothing above them (the base layer only: errors, names, the locks)."""
    above = [
        (m, target)
        for m, targets in graph().items()
        if m.startswith(f"{NAME}.adapters")
        for target in targets
        if not target.startswith(f"{NAME}.adapters") and layer_of(target) != 0
    ]
    assert above == []


def test_cycle_and_layer_checks_catch_what_they_are_for() -> None:
    """The checks themselves, on a made-up graph: a two-module cycle and a self-contained chain."""
    assert cycles({"a": {"b": 1}, "b": {"a": 1}, "c": {"a": 1}}) == [["a", "b"]]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) == []
    assert layer_of(f"{NAME}.adapters.git") < layer_of(f"{NAME}.pipeline.project") < layer_of(f"{NAME}.cli")


def function_lengths() -> Iterator[tuple[str, int]]:
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
                yield (
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}",
                    (node.end_lineno - node.lineno + 1),
                )


def test_command_modules_are_thin() -> None:
    """A command parses, calls one function of the layer below and prints what it returns."""
    long = {
        path.name: n
        for path in sorted((PACKAGE / "commands").glob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > COMMAND_LINES
    }
    assert long == {}


@pytest.mark.parametrize("limit", [FUNCTION_LINES])
def test_functions_fit_on_a_screen(limit: int) -> None:
    """No function over ~80 lines outside the demo script (a long flow is split into named steps)."""
    long = {
        where: n for where, n in function_lengths() if n > limit and not where.startswith(f"{NAME}/demo.py")
    }
    assert long == {}
