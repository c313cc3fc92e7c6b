"""Public entry points: load an app file (or text) into an object tree, or just check it.

Loading never calls `complete()` and never starts a transport: the runner does that.

The cyclic garbage collector is paused while the tree is built (see yamlfile.no_gc). A
tree of FREEZE_AT objects or more is then moved to the collector's permanent generation
(gc.freeze): an app's tree lives as long as the process, and otherwise the first collection
after loading would scan all of it (two seconds for 100,000 objects), and every full
collection after that again. The price: such a tree, if dropped, is freed only as far as
reference counting reaches (parent/child links are cycles); `gc.unfreeze()` undoes it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable

from incore.core import Object

from . import source as source_info
from .builder import Builder
from .errors import AppError, ErrorCollector
from .source import Source
from .yamlfile import no_gc, read_text

FREEZE_AT = 1000


class App:
    """A loaded app: its root object, its ids and the file it came from."""

    __slots__ = ("root", "ids", "path")

    def __init__(self, root: Object, ids: dict[str, Object], path: str) -> None:
        self.root = root
        self.ids = ids
        self.path = path

    def __repr__(self) -> str:
        return f"<App {self.path} root={self.root!r} ids={len(self.ids)}>"


def _build(src: Source, overrides: Iterable[str], errors: ErrorCollector) -> App | None:
    builder = Builder(errors)
    with no_gc():
        try:
            root = builder.load_root(src)
        except AppError as exc:  # the file itself could not be parsed
            errors.add(exc)
            return None
        if root is None:
            return None
        for number, text in enumerate(overrides, 1):
            builder.override(number, text)
        builder.finish()
        if builder.count >= FREEZE_AT and not errors:
            gc.freeze()
    source_info.info(root, create=True).scope = builder.scope
    return App(root, builder.ids, src.name)


def load_string(text: str, filename: str = "<string>", overrides: Iterable[str] = ()) -> App:
    """Load app text; `filename` names it in messages (a `.json` name reads it as JSON).

    Includes are relative to the file's directory (the current one for "<string>").
    """
    path = os.path.abspath(filename) if not filename.startswith("<") else ""
    errors = ErrorCollector()
    app = _build(Source(filename, path, text), overrides, errors)
    errors.raise_first()
    assert app is not None
    return app


def load_app(path: str | os.PathLike, overrides: Iterable[str] = ()) -> App:
    """Load an app file. `overrides` are "ID.PROP=VALUE" strings (VALUE is a YAML scalar),
    applied before bindings are installed and before completion.

    Raises AppError (the first mistake; `.errors` has all of them).
    """
    name = os.fspath(path)
    text = read_text(name)
    return load_string(text, name, overrides)


def validate(path: str | os.PathLike, overrides: Iterable[str] = ()) -> list[AppError]:
    """Every mistake in an app file, in reading order (empty: the file is valid)."""
    name = os.fspath(path)
    errors = ErrorCollector()
    try:
        text = read_text(name)
    except AppError as exc:
        return [exc]
    _build(Source(name, os.path.abspath(name), text), overrides, errors)
    return errors.sorted()
