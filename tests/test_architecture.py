"""The package's shape: layers, no import cycles, small modules (docs/architecture.md).

Every import in `sandbox/` is read with `ast`, those inside functions and under
`TYPE_CHECKING` included: a late import hides a dependency, it does not remove it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sandbox"
# Lower layers never import higher ones: rules < load < serve < tools < web < cli.
LAYERS = ("rules", "load", "serve", "tools", "web", "cli")
REQUEST_PATH = ("rules", "load", "serve")
FRONTS = ("tools", "web", "cli")
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, known: set[str]) -> Iterator[str]:
    """The sandbox modules `path` imports (`from a.b import c` is `a.b.c` when that is a module)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "sandbox")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's own package
                package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "sandbox":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in known else base


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {m for m in imported(path, known) if m in known and m != name} for name, path in found.items()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
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


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_the_request_path_never_imports_the_tools_the_web_pages_or_the_cli() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(module) in REQUEST_PATH and layer(target) in FRONTS
    ]
    assert wrong == []


def test_lower_layers_never_import_higher_ones() -> None:
    rank = {name: position for position, name in enumerate(LAYERS)}
    wrong = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in graph().items()
        for target in targets
        if layer(module) and layer(target) and rank[str(layer(target))] > rank[str(layer(module))]
    ]
    assert wrong == []


def test_no_module_is_over_600_lines() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_module_belongs_to_a_layer_or_is_a_public_entry_point() -> None:
    entry_points = {"sandbox", "sandbox.__main__", "sandbox.pytest_plugin", "sandbox.pytest_fixtures"}
    loose = sorted(
        name for name in modules() if layer(name) is None and name not in entry_points and name.count(".") != 1
    )
    assert loose == []
    assert {name for name in modules() if name.count(".") == 1} <= entry_points | {f"sandbox.{x}" for x in LAYERS}


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_late_imports_are_read_too(tmp_path: Path) -> None:
    source = tmp_path / "late.py"
    source.write_text("def f() -> None:\n    from sandbox.web import catalogue\n")
    assert list(imported(source, {"sandbox.web", "sandbox.web.catalogue"})) == ["sandbox.web.catalogue"]
