"""The package's layers: no import circle in bench/ (imports inside functions count), no module
over ~400 lines, no module importing another module's underscore names, contracts free of
machinery. Read from the source with ast, never by importing it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
MAX_LINES = 400
# what each layer may import from bench (besides itself); the arrows of DESIGN.md "Who may import whom"
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "nn": set(),
    "methods": {"core", "nn", "data"},
    "plugins": {"core", "data"},
    "results": {"core", "data"},
    "run": {"core", "data", "plugins", "results"},
    "report": {"core", "data", "plugins", "results", "run"},
    "perf": {"core", "data", "nn", "methods", "plugins", "results", "run"},
    "practice": {"core", "data", "nn", "methods", "plugins", "results", "run"},
    "cli": {"core", "data", "nn", "methods", "plugins", "results", "run", "report", "perf", "practice"},
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path, modules: set[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) for every import of a project module in ``path``, anywhere in it."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, ()) for a in node.names if a.name in modules]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                if f"{base}.{a.name}" in modules:
                    found.append((f"{base}.{a.name}", ()))
                elif base in modules:
                    found.append((base, (a.name,)))
    return found


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, list[tuple[str, tuple[str, ...]]]]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    modules = set(files)
    raw = {m: imports_of(p, root, modules) for m, p in files.items()}
    return {m: {t for t, _ in imps if t != m} for m, imps in raw.items()}, raw


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (BENCH / parts[1]).is_dir()) else None


GRAPH, RAW = import_graph(BENCH)


def test_bench_has_no_import_circle():
    assert circles(GRAPH) == []


def test_a_planted_circle_is_found(tmp_path):
    pkg = tmp_path / "bench"
    (pkg / "run").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "run" / "__init__.py").write_text("")
    (pkg / "run" / "a.py").write_text("def f():\n    from bench.run import b\n")  # inside a function
    (pkg / "run" / "b.py").write_text("from . import c\n")
    (pkg / "run" / "c.py").write_text("from .a import f\n")
    graph, _ = import_graph(pkg)
    assert circles(graph) == [["bench.run.a", "bench.run.b", "bench.run.c"]]


@pytest.mark.parametrize("path", sorted(BENCH.rglob("*.py")), ids=lambda p: str(p.relative_to(BENCH)))
def test_module_is_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path} has over {MAX_LINES} lines: split it"


def test_no_module_imports_another_modules_underscore_names():
    leaks = [f"{m} imports {t}.{n}" for m, imps in RAW.items() for t, names in imps if t != m
             for n in names if n.startswith("_") and not n.startswith("__")]
    assert leaks == []


def test_layers_import_only_downwards():
    wrong = []
    for m, targets in GRAPH.items():
        mine = layer(m)
        if mine is None:
            continue
        for t in targets:
            theirs = layer(t)
            if theirs is not None and theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{m} -> {t}")
    assert wrong == []


def test_every_layer_is_known():
    assert {p.name for p in BENCH.iterdir() if (p / "__init__.py").is_file()} == set(ALLOWED)
