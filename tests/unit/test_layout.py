"""The package layout shows the flow: imports point one way, with no cycle between modules
(lazy, function-level imports included), and the package root holds only the foundations."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "cdiscmap"
ROOT_MODULES = {"__init__.py", "__main__.py", "cli.py", "errors.py", "findings.py",
                "forked.py", "leaving.py", "progress.py", "py.typed", "resources.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """cdiscmap modules imported anywhere in the file (``from a import b`` may name a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("cdiscmap"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cdiscmap"))
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    graph = {}
    for name, path in files.items():
        # a package's __init__ is imported with any of its modules: not an edge of its own
        graph[name] = {m for m in _imports(path, modules) if m in modules and m != name
                       and not name.startswith(m + ".")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_modules() -> None:
    assert _cycle(_graph()) is None


def test_cycle_detector_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]


def test_package_root_holds_only_the_foundations() -> None:
    loose = {p.name for p in PACKAGE.iterdir() if p.is_file()}
    assert loose <= ROOT_MODULES, sorted(loose - ROOT_MODULES)


def test_lower_layers_do_not_import_the_pipeline_or_the_cli() -> None:
    graph = _graph()
    lower = [m for m in graph if m.split(".")[1:2] and m.split(".")[1] in
             {"ingest", "sdtm", "recist", "checks", "adam", "emit", "spec", "standards"}]
    for module in lower:
        upward = {m for m in graph[module]
                  if m.startswith(("cdiscmap.pipeline", "cdiscmap.validation", "cdiscmap.cli"))}
        assert not upward, (module, upward)
