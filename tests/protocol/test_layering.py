"""protocol/ has no import cycle, no import hidden from the import graph, and no upward import."""

from __future__ import annotations

import ast
from pathlib import Path

import mcp_host.protocol

PACKAGE = Path(mcp_host.protocol.__file__).parent

UPWARD = ("mcp_host.transports", "mcp_host.host", "mcp_host.server", "mcp_host.cli")


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.glob("*.py"))}


def _sibling_imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in tree.body:  # module level only: see test_no_hidden_imports
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycle_inside_protocol() -> None:
    graph = {name: _sibling_imports(tree) - {name} for name, tree in _modules().items()}
    graph.pop("__init__")
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, set())):
            if state.get(nxt) == "open":
                raise AssertionError(f"import cycle: {' -> '.join([*path, node, nxt])}")
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_no_hidden_imports() -> None:
    """No import under ``if TYPE_CHECKING:`` and none inside a function: each would be a way
    to keep a cycle out of sight."""
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                raise AssertionError(f"protocol/{name}.py imports under TYPE_CHECKING")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        raise AssertionError(
                            f"protocol/{name}.py imports inside {node.name}() (line {inner.lineno})"
                        )


def test_no_upward_import() -> None:
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                assert not target.startswith(UPWARD), f"protocol/{name}.py imports {target}"
