"""One app file being read: its name for messages, its path for includes, marks to positions.

Also the per-object facts a file states that the object model does not keep (its `id`, the
handler texts), held weakly so they never keep an object alive: `incore.dumps` writes them
back and the Python API finds a loaded object's file scope through them.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from yaml.nodes import Node, ScalarNode

from .errors import AppError


class Source:
    """A file's display name (as the user gave it), absolute path and text."""

    __slots__ = ("name", "path", "text", "_lines")

    def __init__(self, name: str, path: str, text: str) -> None:
        self.name = name
        self.path = path
        self.text = text
        self._lines: list[str] | None = None

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path) if self.path else os.getcwd()

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def error(self, node: Node | None, message: str) -> AppError:
        return AppError.at(self.name, node.start_mark if node is not None else None, message)

    # -- positions inside scalars (expressions) ----------------------------------------------
    def value_start(self, node: Node) -> tuple[int, int]:
        """0-based (line, column) of the first character of a scalar's text.

        A tagged scalar's mark is on the tag (`!bind x`), a quoted one's on the quote.
        """
        mark = node.start_mark
        line, col = mark.line, mark.column
        style = getattr(node, "style", None)
        if style in ("|", ">"):
            return line + 1, 0
        if node.tag.startswith("!") and line < len(self.lines()):
            text = self.lines()[line]
            end = col
            while end < len(text) and not text[end].isspace():
                end += 1
            while end < len(text) and text[end] == " ":
                end += 1
            col = end
            if end < len(text) and text[end] in "\"'":
                col += 1
        elif style in ('"', "'"):
            col += 1
        return line, col

    def position(self, node: Node, line: int, col: int) -> tuple[int, int]:
        """1-based file (line, column) of (1-based line, 0-based column) in a scalar's text."""
        start_line, start_col = self.value_start(node)
        lines = self.lines()
        if getattr(node, "style", None) in ("|", ">"):
            file_line = start_line + line - 1
            expr_lines = node.value.split("\n")
            if file_line < len(lines) and line <= len(expr_lines):
                text, expr = lines[file_line], expr_lines[line - 1]
                return file_line + 1, len(text) - len(expr) + col + 1
            return file_line + 1, col + 1
        if line == 1:
            return start_line + 1, start_col + col + 1
        file_line = start_line + line - 1  # a multi-line plain or quoted scalar (folded)
        if file_line < len(lines):
            text = lines[file_line]
            indent = len(text) - len(text.lstrip())
            return file_line + 1, indent + col + 1
        return start_line + 1, start_col + 1

    def comma_hint(self, node: Node) -> str:
        """A hint for an expression that a comma cut short, else "".

        Inside a flow mapping `{...}` a comma ends a plain value, so `{onX: f(a, b)}` gives
        `f(a` and a key `b)`. In a block mapping a plain value runs to the end of the line.
        """
        if node.__class__ is not ScalarNode or node.style not in (None, ""):
            return ""
        mark = node.end_mark
        lines = self.lines()
        rest = lines[mark.line][mark.column :].lstrip() if mark.line < len(lines) else ""
        if not rest.startswith(","):
            return ""
        return " (inside {...} a comma ends the value: quote it or write it as a block with |)"

    def location(self, node: Node) -> str:
        """`file:line` of a scalar's first character, for run-time reports."""
        mark = node.start_mark
        style = getattr(node, "style", None)
        return f"{self.name}:{mark.line + (2 if style in ('|', '>') else 1)}"


class ObjectInfo:
    """What the app file said about an object beyond its property values."""

    __slots__ = ("id", "handlers", "scope", "__weakref__")

    def __init__(self) -> None:
        self.id: str | None = None
        self.handlers: dict[str, str] = {}
        self.scope: dict[str, Any] | None = None


_info: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def info(obj: Any, create: bool = False) -> ObjectInfo | None:
    found = _info.get(obj)
    if found is None and create:
        found = _info[obj] = ObjectInfo()
    return found


def object_id(obj: Any) -> str | None:
    found = _info.get(obj)
    return found.id if found is not None else None


def file_scope(obj: Any) -> dict[str, Any] | None:
    """The globals (ids and helpers) of the file `obj` was loaded from, if any."""
    while obj is not None:
        found = _info.get(obj)
        if found is not None and found.scope is not None:
            return found.scope
        obj = obj._v[1]
    return None
