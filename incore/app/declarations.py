"""Custom `properties`, `signals` and `functions` of one object in an app file (§5).

They become a per-object subclass made by the core's own metaclass (unregistered), so a
custom property is a real Property with a change signal, a custom signal a real Signal, a
function a real method. Objects that declare the same things share one class.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from incore.core import Object, Property, Signal, registry

from .source import Source
from .yamlfile import NULL, STR

DECLARATION_KEYS = ("properties", "signals", "functions")
RESERVED_KEYS = frozenset(("id", "objects", *DECLARATION_KEYS))
HANDLER_KEY = re.compile(r"on[A-Z]\w*\Z")
_SIGNATURE = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*\Z", re.S)

#: type name in an app file -> (Python type, default)
PROPERTY_TYPES: dict[str, tuple[Any, Any]] = {
    "bool": (bool, False),
    "int": (int, 0),
    "float": (float, 0.0),
    "str": (str, ""),
    "list": (list, []),
    "dict": (dict, {}),
    "var": (object, None),
}


class Declarations:
    """The custom members of a class, as written in the file (for incore.dumps)."""

    __slots__ = ("properties", "signals", "functions")

    def __init__(self) -> None:
        self.properties: list[tuple[str, str]] = []  # (name, type name)
        self.signals: list[tuple[str, tuple[str, ...]]] = []
        self.functions: list[tuple[str, tuple[str, ...], str]] = []  # (name, params, body)

    def key(self) -> tuple:
        return (tuple(self.properties), tuple(self.signals), tuple(self.functions))


def declarations_of(cls: type) -> Declarations | None:
    """The custom members a class added (None for registered types)."""
    return cls.__dict__.get("__incore_declarations__")


def registered_type(cls: type) -> type:
    """The registered type a (possibly per-object) class stands for."""
    for c in cls.__mro__:
        if registry.get(c.__name__) is c:
            return c
    return cls


def property_type(name: str) -> Any:
    known = PROPERTY_TYPES.get(name)
    if known is not None:
        return known[0]
    t = registry.get(name)
    return t if t is not None and issubclass(t, Object) else None


def _is_name(text: Any) -> bool:
    return isinstance(text, str) and text.isidentifier() and not keyword.iskeyword(text)


class DeclarationReader:
    """Reads the declaration nodes of one object and makes (or reuses) its class."""

    def __init__(self, report: Callable[[Source, Node, str], None]) -> None:
        self.report = report
        self._classes: dict[tuple, type] = {}

    def make_class(
        self, base: type, nodes: dict[str, Node], src: Source
    ) -> tuple[type, list[tuple[str, Node]], list[tuple[str, Node]]]:
        """(class, [(property, value node)], [(function, body node)])."""
        decl = Declarations()
        values: list[tuple[str, Node]] = []
        bodies: list[tuple[str, Node]] = []
        taken = {*base._props, *base._signals, *base._methods, *RESERVED_KEYS}
        for name_node, value in self._entries(nodes.get("properties"), src, "properties"):
            name = self._new_name(name_node, taken, src, "property")
            if name is not None:
                self._property(decl, values, name, value, src)
        for name_node, value in self._entries(nodes.get("signals"), src, "signals"):
            name = self._new_name(name_node, taken, src, "signal")
            if name is not None:
                self._signal(decl, name, value, src)
        for name_node, value in self._entries(nodes.get("functions"), src, "functions"):
            match = _SIGNATURE.match(name_node.value)
            params = (
                tuple(p.strip() for p in (match.group(2) or "").split(",") if p.strip())
                if match
                else ()
            )
            if match is None or not all(_is_name(p) for p in params):
                self.report(
                    src,
                    name_node,
                    f"bad function signature '{name_node.value}' (expected name or name(arg, ...))",
                )
                continue
            name = self._new_name(name_node, taken, src, "function", match.group(1))
            if name is None:
                continue
            if value.__class__ is not ScalarNode or value.tag not in (STR, NULL):
                self.report(src, value, f"function '{name}' needs its body as text")
                continue
            decl.functions.append((name, params, value.value))
            bodies.append((name, value))
        return self._class(base, decl), values, bodies

    def _entries(self, node: Node | None, src: Source, what: str) -> list[tuple[Node, Node]]:
        if node is None or (node.__class__ is ScalarNode and node.tag == NULL):
            return []
        if node.__class__ is SequenceNode and what == "signals":  # [alarm, reset]
            return [
                (item, ScalarNode(NULL, "", item.start_mark, item.end_mark)) for item in node.value
            ]
        if node.__class__ is not MappingNode:
            self.report(src, node, f"{what}: expected a mapping of names")
            return []
        return node.value

    def _new_name(
        self, node: Node, taken: set, src: Source, kind: str, name: str | None = None
    ) -> str | None:
        name = name if name is not None else node.value
        if node.__class__ is not ScalarNode or not _is_name(name):
            self.report(src, node, f"bad {kind} name '{getattr(node, 'value', '')}'")
            return None
        if HANDLER_KEY.match(name):
            self.report(src, node, f"{kind} name '{name}' looks like a handler (on...)")
            return None
        if name in taken:
            self.report(src, node, f"'{name}' is already a member of this object")
            return None
        taken.add(name)
        return name

    def _property(
        self, decl: Declarations, values: list, name: str, node: Node, src: Source
    ) -> None:
        type_node, value_node = node, None
        if node.__class__ is MappingNode:
            type_node = None
            for k, v in node.value:
                if k.value == "type":
                    type_node = v
                elif k.value == "value":
                    value_node = v
                else:
                    self.report(
                        src,
                        k,
                        f"unknown key '{k.value}' in the declaration of "
                        f"property '{name}' (expected type, value)",
                    )
            if type_node is None:
                self.report(src, node, f"property '{name}' needs a type")
                return
        if type_node.__class__ is not ScalarNode or type_node.tag != STR:
            self.report(src, type_node, f"property '{name}': expected a type name")
            return
        type_name = type_node.value
        if property_type(type_name) is None:
            choices = [*PROPERTY_TYPES, *registry.names()]
            self.report(
                src,
                type_node,
                f"unknown property type '{type_name}'{registry.suggest(type_name, choices)}",
            )
            return
        decl.properties.append((name, type_name))
        if value_node is not None:
            values.append((name, value_node))

    def _signal(self, decl: Declarations, name: str, node: Node, src: Source) -> None:
        args: list[str] = []
        if node.__class__ is SequenceNode:
            for item in node.value:
                if item.__class__ is not ScalarNode or not _is_name(item.value):
                    self.report(src, item, f"signal '{name}': bad argument name")
                    return
                args.append(item.value)
        elif not (node.__class__ is ScalarNode and node.tag == NULL):
            self.report(src, node, f"signal '{name}': expected a list of argument names")
            return
        decl.signals.append((name, tuple(args)))

    def _class(self, base: type, decl: Declarations) -> type:
        key = (base, decl.key())
        cls = self._classes.get(key)
        if cls is not None:
            return cls
        ns: dict[str, Any] = {
            "__slots__": (),
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
        }
        for name, type_name in decl.properties:
            t = property_type(type_name)
            default = PROPERTY_TYPES.get(type_name, (None, None))[1]
            ns[name] = Property(t, default, doc=f"Custom property ({type_name}).")
        for name, args in decl.signals:
            ns[name] = Signal(*args, doc="Custom signal.")
        for name, params, _body in decl.functions:
            ns[name] = _placeholder(name, params)
        # its own metaclass (SharedBase for LinkClient types), which must get register=False
        cls = type(base)(base.__name__, (base,), ns, register=False)
        cls.__incore_declarations__ = decl
        self._classes[key] = cls
        return cls


def _placeholder(name: str, params: tuple[str, ...]) -> Callable[..., Any]:
    def not_compiled(self: Any, *args: Any) -> None:
        raise RuntimeError(f"function {name} was not compiled (its app file had errors)")

    not_compiled.__name__ = name
    not_compiled.__incore_method__ = True  # type: ignore[attr-defined]
    not_compiled.__incore_params__ = params  # type: ignore[attr-defined]
    return not_compiled


def install_function(cls: type, name: str, fn: Callable[..., Any]) -> None:
    """Put a compiled function in place of its placeholder (once per class)."""
    fn.__incore_method__ = True  # type: ignore[attr-defined]
    setattr(cls, name, fn)
    method = registry.Method(fn)
    cls._methods[name] = method
    cls._own_methods[name] = method
