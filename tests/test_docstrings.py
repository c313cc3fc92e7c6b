"""One docstring dialect across the package: Markdown-style `code`, no reST markup.

ruff checks the layout of docstrings (PEP 257); what it cannot see is the markup inside
them. The code base writes `name` (one backtick) in docstrings and comments, as the guides
do; reST's ``name`` and :class:`Name` roles read as noise in `help()` and in an editor.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "incore"
REST = re.compile(r"``[^`\n]+``|:(?:py:)?(?:class|meth|func|attr|mod|data|exc|obj|const):`")


def rest_markup(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line of `text` that uses reST markup."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if REST.search(line)]


def test_the_checker_sees_rest_markup() -> None:
    assert rest_markup('"""Feed ``data``; see :class:`~a.B`."""\n"""`fine`"""') == [
        (1, '"""Feed ``data``; see :class:`~a.B`."""')
    ]


def test_the_package_writes_one_dialect() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in rest_markup(path.read_text())
    ]
    assert not found, "reST markup in docstrings (write `name`):\n" + "\n".join(found)
