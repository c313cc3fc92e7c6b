"""Whole-tree JSON documents: `dumps(tree)` / `loads(text)` (app-format.md §9).

A document is a JSON app file: type names as keys, `id`s, custom declarations, property
values that differ from the type's default, bound properties as {"$bind": EXPR}, handler
texts and children. So `loads(dumps(t))` rebuilds an equal tree, and the document runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from incore.core import Object
from incore.core.serialize import encode_value

from . import source as source_info
from .declarations import declarations_of, registered_type
from .loader import load_string


def _is_ref(prop: Any) -> bool:
    return isinstance(prop.type, type) and issubclass(prop.type, Object)


def _same(a: Any, b: Any) -> bool:
    return a is b or (a.__class__ is b.__class__ and a == b)


class _Writer:
    def __init__(self, root: Object) -> None:
        self.ids: dict[Object, str] = {}
        used: set[str] = set()
        for obj in root.walk():
            oid = source_info.object_id(obj)
            if oid is not None:
                self.ids[obj] = oid
                used.add(oid)
        # an object referenced by another needs an id in the document
        count = 0
        for obj in root.walk():
            for prop in type(obj)._prop_list:
                target = prop.peek(obj) if _is_ref(prop) and prop.name != "parent" else None
                if target is not None and target not in self.ids:
                    base = registered_type(type(target)).__name__
                    while True:
                        count += 1
                        candidate = f"{base[0].lower()}{base[1:]}{count}"
                        if candidate not in used:
                            break
                    used.add(candidate)
                    self.ids[target] = candidate

    def node(self, obj: Object) -> dict[str, Any]:
        cls = type(obj)
        body: dict[str, Any] = {}
        oid = self.ids.get(obj)
        if oid is not None:
            body["id"] = oid
        decl = declarations_of(cls)
        if decl is not None:
            if decl.properties:
                body["properties"] = {name: t for name, t in decl.properties}
            if decl.signals:
                body["signals"] = {name: list(args) for name, args in decl.signals}
            if decl.functions:
                body["functions"] = {
                    (f"{name}({', '.join(params)})" if params else name): text
                    for name, params, text in decl.functions
                }
        bindings = obj._bindings or {}
        for prop in cls._prop_list:
            name = prop.name
            if name == "objects" or name == "parent":
                continue
            binding = bindings.get(name)
            if binding is not None and binding.source:
                body[name] = {"$bind": binding.source}
                continue
            if not prop.serializable:
                continue
            value = prop.peek(obj)
            if _same(value, prop.default) or (prop.mutable and value == prop.default):
                continue
            if _is_ref(prop):
                body[name] = self.ids.get(value) if value is not None else None
            else:
                body[name] = encode_value(value)
        info = source_info.info(obj)
        if info is not None:
            body.update(info.handlers)
        children = obj.children()
        if children:
            body["objects"] = [self.node(child) for child in children]
        return {registered_type(cls).__name__: body}


def document(tree: Object) -> dict[str, Any]:
    """The tree as JSON-ready data (what dumps writes)."""
    return _Writer(tree).node(tree)


# Characters a YAML reader refuses or reads as line breaks: escaped, so the document reads
# back through the same (YAML) path as any app file. They occur only inside strings.
_NOT_YAML_SAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def dumps(tree: Object, indent: int | None = 2) -> str:
    """The whole tree as a JSON app file."""
    text = json.dumps(document(tree), indent=indent, ensure_ascii=False)
    return _NOT_YAML_SAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def loads(text: str, filename: str = "<json>") -> Object:
    """Build the tree of a dumps() document (not completed, nothing started).

    A mistake raises AppError at FILE:LINE:COL (`filename` names the text, say the file it
    was read from) and gives no tree: a document is checked whole, like any app file.
    """
    return load_string(text, filename).root
