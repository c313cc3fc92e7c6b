"""The package's import rules, read from the source (AST), not by importing it.

1. The codecs under incore/protocols are sans-IO: none of them imports a socket, a thread,
   a selector, an event loop or the clock. Time and bytes are their inputs (see
   docs/dev/architecture.md, "The sans-IO contract").
2. No two modules under incore/ import each other, directly or round a longer loop: every
   import counts, also one inside a function or under ``if TYPE_CHECKING`` (a loop there
   still means neither module can be read without the other).

The checkers are tried on a small package written to tmp_path first, so each rule is shown
to catch what it is meant to.
"""

from __future__ import annotations

import ast
from collections.abc import Container
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IO_MODULES = frozenset({"socket", "select", "selectors", "threading", "asyncio", "time"})

#: Cycles outside incore/protocols that are being removed elsewhere; any other cycle fails.
#: Delete an entry once its cycle is gone.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package __init__) for every module of ``package``."""
    found = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imported_modules(
    tree: ast.AST, name: str, is_package: bool, known: Container[str] = ()
) -> set[str]:
    """Every module the tree imports, relative imports resolved. ``from x import y`` is an
    import of ``x.y`` when that is one of the ``known`` modules, else of ``x``: so
    ``from . import szl`` imports the submodule, not the package (a module importing its own
    package's __init__ is not what makes a cycle here)."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    found = modules(root, package)
    graph = {}
    for name, (path, is_package) in found.items():
        targets = imported_modules(ast.parse(path.read_text(), str(path)), name, is_package, found)
        graph[name] = {target for target in targets if target in found} - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def io_imports(root: Path, package: str) -> list[str]:
    """``module: io module`` for every import of an IO module (or of anything in one)."""
    bad = set()
    for name, (path, is_package) in modules(root, package).items():
        for target in imported_modules(ast.parse(path.read_text(), str(path)), name, is_package):
            if target.split(".")[0] in IO_MODULES:
                bad.add(f"{name}: {target.split('.')[0]}")
    return sorted(bad)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# -- the checkers catch what they should -----------------------------------------------------
def test_checkers_find_cycles_and_io_imports_in_a_small_package(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from . import a, c\n",
            "pkg/a.py": "from .b import thing\n",
            "pkg/b.py": "def f():\n    from . import c\n",
            "pkg/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\n"
            ),
            "pkg/d.py": "from . import e\nimport pkg.e\nimport pkg\n",
            "pkg/e.py": "import json\n",
            "pkg/sub/__init__.py": "from ..e import y\n",
            "pkg/sub/io.py": (
                "import socket\nfrom time import monotonic\ndef f():\n    import threading.local\n"
            ),
            "pkg/sub/fine.py": "import timeit\nfrom .. import e\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg"] == {"pkg.a", "pkg.c"}  # `from . import a` is an edge to pkg.a
    assert graph["pkg.d"] == {"pkg.e", "pkg"}
    assert graph["pkg.sub"] == {"pkg.e"}
    assert cycles(graph) == [
        frozenset({"pkg.a", "pkg.b", "pkg.c"})
    ]  # in a function, under TYPE_CHECKING
    assert io_imports(tmp_path, "pkg") == [
        "pkg.sub.io: socket",
        "pkg.sub.io: threading",
        "pkg.sub.io: time",
    ]


# -- the rules on incore -----------------------------------------------------------------------
def test_codecs_import_no_sockets_threads_selectors_event_loops_or_clocks():
    assert io_imports(REPO, "incore.protocols") == []


def test_no_two_modules_of_incore_import_each_other():
    found = cycles(import_graph(REPO, "incore"))
    new = sorted(sorted(cycle) for cycle in found if cycle not in KNOWN_CYCLES)
    assert new == [], f"import cycles: {new}"


def test_no_known_cycle_is_inside_the_codecs():
    """Known cycles are allowed only outside incore/protocols: the codecs have none."""
    assert not any(name.startswith("incore.protocols") for cycle in KNOWN_CYCLES for name in cycle)
    assert not [cycle for cycle in cycles(import_graph(REPO, "incore.protocols"))]
