"""Node graph -> object tree, in two passes.

Pass 1 walks the nodes in document order: it creates each object (with its parent set
first, so property hooks can see it), writes literal values through the properties' own
converters and records what needs the whole file: id references, bindings, handlers and
functions. Pass 2, when every id is known, resolves references, compiles each expression once,
installs bindings and connects handlers, then runs the types' whole-object checks (checks.py).
A value its property's declared rules refuse is reported at the value and never written.
Nothing is completed or started here.
"""

from __future__ import annotations

import keyword
import os
from collections.abc import Iterator
from functools import partial
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from incore.core import Object, engine, registry
from incore.core.signal import BoundSignal

from . import source as source_info
from .checks import ObjectChecks
from .declarations import (
    DECLARATION_KEYS,
    HANDLER_KEY,
    DeclarationReader,
    install_function,
    registered_type,
)
from .errors import AppError, ErrorCollector
from .expressions import RESERVED, Compiler, ExpressionError, new_globals
from .source import Source
from .yamlfile import BIND, INCLUDE, NULL, STR, compose, read_text, to_data

_SKIP = object()


def type_name(cls: type) -> str:
    return registered_type(cls).__name__


def _is_ref(prop: Any) -> bool:
    t = prop.type
    return isinstance(t, type) and issubclass(t, Object)


class Builder:
    """Builds the objects of one app (its file and includes) into one id scope."""

    def __init__(self, errors: ErrorCollector) -> None:
        self.errors = errors
        self.ids: dict[str, Object] = {}
        self.id_nodes: dict[str, tuple[Source, Node]] = {}
        self.scope = new_globals()
        self.compiler = Compiler(self.scope)
        self.declarations = DeclarationReader(self.report)
        self.refs: dict[tuple[int, str], tuple] = {}
        self.bindings: dict[tuple[int, str], tuple] = {}
        self.handlers: list[tuple] = []
        self.functions: list[tuple] = []
        self._accepts: dict[tuple[type, type], bool] = {}
        self._including: list[str] = []
        self.checks = ObjectChecks(self.report)
        self.count = 0  # objects built

    def report(self, src: Source, node: Node | None, message: str) -> None:
        self.errors.add(src.error(node, message))

    # -- files -------------------------------------------------------------------------------
    def load_root(self, src: Source) -> Object | None:
        self.compiler.filename = src.name
        self.errors.note_file(src.name)
        node = compose(src.text, src.name)
        if node is None:
            self.errors.add(AppError(src.name, 1, 1, "empty app file (expected one object)"))
            return None
        self._including.append(src.path)
        root = None
        for item, item_src in self._expand(node, src, root=True):
            if len(item.value) > 1:  # a second root key
                second = item.value[1][0]
                self.report(
                    item_src,
                    second,
                    f"an app file has one root object; '{second.value}' "
                    "is a second one (list objects under the root's objects:)",
                )
                return None
            root = self.build(item, item_src, None)  # built while its include is open
        return root

    def _include(self, node: Node, src: Source) -> tuple[Node, Source] | None:
        rel = node.value if node.__class__ is ScalarNode else None
        if not isinstance(rel, str) or not rel:
            self.report(src, node, "!include needs a file name")
            return None
        path = os.path.normpath(os.path.join(src.directory, rel))
        name = os.path.normpath(os.path.join(os.path.dirname(src.name), rel)) if src.path else rel
        if path in self._including:
            cycle = [*self._including[self._including.index(path) :], path]
            self.report(
                src, node, "cyclic include: " + " -> ".join(os.path.basename(p) for p in cycle)
            )
            return None
        if not os.path.isfile(path):
            self.report(src, node, f"cannot include '{rel}': file not found")
            return None
        try:
            included = Source(name, path, read_text(path, name))
            self.errors.note_file(name)
            root = compose(included.text, name)
        except AppError as exc:
            self.errors.add(exc)
            return None
        if root is None:
            self.report(src, node, f"included file '{rel}' is empty")
            return None
        return root, included

    def _include_node(self, node: Node) -> Node | None:
        """The file-name node of `!include F` or {"$include": F}, else None."""
        if node.__class__ is ScalarNode:
            return node if node.tag == INCLUDE else None
        if (
            node.__class__ is MappingNode
            and len(node.value) == 1
            and node.value[0][0].value == "$include"
        ):
            return node.value[0][1]
        return None

    def _expand(self, node: Node, src: Source, root: bool = False) -> Iterator[tuple[Node, Source]]:
        """The object nodes of a child list (or the root), with includes spliced in."""
        include = self._include_node(node)
        if include is not None:
            found = self._include(include, src)
            if found is not None:
                self._including.append(found[1].path)
                try:
                    yield from self._expand(found[0], found[1], root)
                finally:
                    self._including.pop()
        elif node.__class__ is SequenceNode and not root:
            for item in node.value:
                if self._include_node(item) is not None:
                    yield from self._expand(item, src)
                else:
                    yield item, src
        elif node.__class__ is ScalarNode and node.tag == NULL and not root:
            return
        elif node.__class__ is MappingNode:
            yield node, src
        else:
            what = "an object" if root else "a list of objects"
            self.report(src, node, f"expected {what} here")

    # -- pass 1 ------------------------------------------------------------------------------
    def build(self, node: Node, src: Source, parent: Object | None) -> Object | None:
        if node.__class__ is not MappingNode or len(node.value) != 1:
            keys = [k.value for k, _ in node.value] if node.__class__ is MappingNode else []
            found = (
                f"found {len(keys)} keys: {', '.join(map(str, keys))}" if keys else "found no key"
            )
            self.report(
                src,
                node,
                "an object node has exactly one key, its type name "
                f"({found}; indent the properties under the type)",
            )
            return None
        key, body = node.value[0]
        name = key.value if key.__class__ is ScalarNode else None
        cls = registry.get(name) if isinstance(name, str) else None
        if cls is None or not issubclass(cls, Object):
            hint = registry.suggest(str(name), registry.names()) if isinstance(name, str) else ""
            self.report(src, key, f"unknown type '{name}'{hint}")
            return None
        if parent is not None and not self._accepted(type(parent), cls):
            self.report(src, key, self._not_accepted(type(parent), cls))
            parent = None  # still check the subtree
        items = self._items(body, src, name)
        decl_nodes = {k.value: v for k, v in items if k.value in DECLARATION_KEYS}
        values: list = []
        if decl_nodes:
            cls, values, bodies = self.declarations.make_class(cls, decl_nodes, src)
            for fname, body_node in bodies:
                self.functions.append((cls, fname, body_node, src))
        obj = cls()
        self.count += 1
        registry.set_location(obj, f"{src.name}:{key.start_mark.line + 1}")
        if parent is not None:
            Object.parent.write(obj, parent, False)
        children = None
        before: tuple[Node, Node] | None = None
        for k, v in items:
            prop = k.value
            if prop == "id":
                self._set_id(obj, v, src)
            elif prop == "objects":
                children = v
            elif prop not in DECLARATION_KEYS:
                self.assign(obj, k, v, src, before)
            before = (k, v)
        for prop, v in values:
            self.assign(obj, ScalarNode(STR, prop, v.start_mark, v.end_mark), v, src)
        self.checks.built(obj, parent, src, key, items, values)
        if children is not None:
            kids = [
                c
                for c in (self.build(n, s, obj) for n, s in self._expand(children, src))
                if c is not None
            ]
            if kids:
                cls._props["objects"].write(obj, kids, False)
        node.value = ()  # done with this subtree: its memory serves the objects still to come
        return obj

    def _items(self, body: Node, src: Source, name: str) -> list[tuple[Node, Node]]:
        if body.__class__ is ScalarNode and body.tag == NULL:
            return []
        if body.__class__ is not MappingNode:
            self.report(src, body, f"the properties of {name} must be a mapping")
            return []
        seen: set = set()
        items = []
        for k, v in body.value:
            if k.__class__ is not ScalarNode or k.tag not in (STR, NULL) and k.tag[0] == "!":
                self.report(src, k, "a property name must be plain text")
                continue
            if k.value in seen:
                self.report(src, k, f"duplicate key '{k.value}'")
                continue
            seen.add(k.value)
            items.append((k, v))
        return items

    def _accepted(self, parent: type, child: type) -> bool:
        key = (parent, child)
        ok = self._accepts.get(key)
        if ok is None:
            ok = bool(child.modifier)
            for a in parent.accepts:
                t = registry.get(a) if isinstance(a, str) else a
                if a == "Object" or (t is not None and issubclass(child, t)):
                    ok = True
            self._accepts[key] = ok
        return ok

    def _not_accepted(self, parent: type, child: type) -> str:
        names = [a if isinstance(a, str) else a.__name__ for a in parent.accepts]
        what = (
            f"accepts {', '.join(names)} and modifiers"
            if names
            else "takes no children, only modifiers"
        )
        return f"{type_name(parent)} does not accept a child of type {type_name(child)} (it {what})"

    def _set_id(self, obj: Object, node: Node, src: Source) -> None:
        ident = node.value if node.__class__ is ScalarNode and node.tag == STR else None
        if (
            ident is None
            or not ident.isidentifier()
            or ident in RESERVED
            or keyword.iskeyword(ident)
        ):
            shown = f" {node.value!r}" if node.__class__ is ScalarNode else ""
            self.report(
                src,
                node,
                f"bad id{shown}: an id is a name like tank1 (not a "
                "keyword, self, parent or a helper)",
            )
            return
        first = self.id_nodes.get(ident)
        if first is not None:
            fsrc, fnode = first
            where = "" if fsrc is src else f"{fsrc.name}:"
            self.report(
                src,
                node,
                f"duplicate id '{ident}' (first defined at {where}"
                f"{fnode.start_mark.line + 1}:{fnode.start_mark.column + 1})",
            )
            return
        self.ids[ident] = obj
        self.id_nodes[ident] = (src, node)
        self.scope[ident] = obj
        source_info.info(obj, create=True).id = ident

    def assign(
        self,
        obj: Object,
        key: Node,
        node: Node,
        src: Source,
        before: tuple[Node, Node] | None = None,
    ) -> None:
        """A `name: value` line of an object (after `before`, the line preceding it):
        property value, binding, reference or handler."""
        cls = type(obj)
        name = key.value
        prop = cls._props.get(name)
        if prop is None:
            if HANDLER_KEY.match(name):
                self.handlers.append((obj, key, node, src))
                return
            writable = [p for p, d in cls._props.items() if not d.readonly]
            hint = src.comma_hint(before[1]) if before and self._expression(cls, *before) else ""
            self.report(
                src,
                key,
                f"{type_name(cls)} has no property '{name}'"
                f"{hint or registry.suggest(name, writable)}",
            )
            return
        if prop.readonly:
            self.report(src, key, f"{type_name(cls)}.{name} is read-only")
            return
        expr = self.binding_text(node)
        if expr is not None:
            self.bindings[(id(obj), name)] = (obj, name, expr, src)
            return
        if node.tag == BIND:  # a tagged list or mapping
            self.report(
                src,
                node,
                "!bind takes the expression as text (quote a list or "
                'mapping: !bind "[a.data, b.data]")',
            )
            return
        if _is_ref(prop) and node.__class__ is ScalarNode and node.tag == STR:
            self.refs[(id(obj), name)] = (obj, prop, node, src)
            return
        value = self.literal(node, src)
        if value is not _SKIP:
            problem = self.write(obj, prop, value)
            if problem:
                self.report(src, node, problem)

    def _expression(self, cls: type, key: Node, node: Node) -> bool:
        """Whether `key: node` of a `cls` object is a handler or a binding."""
        return node.tag == BIND or (
            HANDLER_KEY.match(str(key.value)) is not None and key.value not in cls._props
        )

    def binding_text(self, node: Node) -> Node | None:
        """The expression node of `!bind EXPR` or {"$bind": EXPR}, else None."""
        if node.__class__ is ScalarNode:
            return node if node.tag == BIND else None
        if (
            node.__class__ is MappingNode
            and len(node.value) == 1
            and node.value[0][0].value == "$bind"
        ):
            return node.value[0][1]
        return None

    def literal(self, node: Node, src: Source) -> Any:
        bad: list[Node] = []

        def tagged(n: Node) -> None:
            bad.append(n)

        value = to_data(node, tagged)
        if bad:
            tag = bad[0].tag
            where = "as a property value" if tag == BIND else "where objects are expected"
            known = tag in (BIND, INCLUDE)
            self.report(
                src, bad[0], f"{tag} is only allowed {where}" if known else f"unknown tag '{tag}'"
            )
            return _SKIP
        return value

    def write(self, obj: Object, prop: Any, value: Any) -> str | None:
        """Write through the property's converter; returns what was wrong, if anything
        (a value the declared rules refuse is not written: no on_write hook repeats it)."""
        if prop.type is bytes and isinstance(value, str):
            try:
                value = bytes.fromhex(value)
            except ValueError:
                pass
        try:
            if prop.checked:
                value = prop.convert(value)
                problem = prop.problem(value, obj)
                if problem:
                    self.checks.flag(obj)
                    return problem
            engine.new_write()
            prop.write(obj, value, True)
            return None
        except Exception as exc:  # a type's own check (on_write) may raise anything
            self.checks.flag(obj)
            return self._enum_message(prop, value) or str(exc) or type(exc).__name__

    def _enum_message(self, prop: Any, value: Any) -> str | None:
        if not (prop.is_enum and isinstance(value, str)):
            return None
        names = [m.name for m in prop.type]
        bare = value.rsplit(".", 1)[-1]
        hint = registry.suggest(bare, names) or f" (one of {', '.join(names)})"
        return f"{prop.qualname}: unknown {prop.type.__name__} '{value}'{hint}"

    # -- overrides (--set ID.PROP=VALUE), applied after pass 1 ------------------------------
    def override(self, number: int, text: str) -> None:
        def fail(col: int, message: str) -> None:
            self.errors.add(AppError("--set", number, col, message))

        left, eq, value_text = text.partition("=")
        oid, dot, pname = left.partition(".")
        if not eq or not dot or not oid or not pname:
            fail(1, f"expected ID.PROP=VALUE, got '{text}'")
            return
        obj = self.ids.get(oid)
        if obj is None:
            fail(1, f"unknown id '{oid}'{registry.suggest(oid, self.ids)}")
            return
        cls = type(obj)
        prop = cls._props.get(pname)
        if prop is None or prop.readonly:
            what = "has no property" if prop is None else "has a read-only property"
            fail(
                len(oid) + 2,
                f"{type_name(cls)} {what} '{pname}'"
                f"{registry.suggest(pname, cls._props) if prop is None else ''}",
            )
            return
        value_col = len(left) + 2
        try:
            node = compose(value_text, "--set")
        except AppError as exc:
            fail(value_col, exc.message)
            return
        value = None if node is None else to_data(node)
        key = (id(obj), pname)
        self.bindings.pop(key, None)
        self.refs.pop(key, None)
        if _is_ref(prop) and isinstance(value, str):
            target = self.ids.get(value)
            if target is None:
                fail(value_col, f"unknown id '{value}'{registry.suggest(value, self.ids)}")
                return
            value = target
        problem = self.write(obj, prop, value)
        if problem:
            fail(value_col, problem)

    # -- pass 2 ------------------------------------------------------------------------------
    def finish(self) -> None:
        """Resolve references, compile functions, install bindings, connect handlers."""
        for obj, prop, node, src in self.refs.values():
            self._resolve_ref(obj, prop, node, src)
        compiled: set = set()
        for cls, name, node, src in self.functions:
            if (cls, name) not in compiled:
                compiled.add((cls, name))
                fn = self._compile(
                    node,
                    src,
                    lambda c, t, line, cls=cls, name=name: c.function(
                        cls, name, list(getattr(cls, name).__incore_params__), t, line
                    ),
                )
                if fn is not None:
                    install_function(cls, name, fn)
        for obj, name, node, src in self.bindings.values():
            self._bind(obj, name, node, src)
        for obj, key, node, src in self.handlers:
            self._handler(obj, key, node, src)
        self.checks.run()

    def _resolve_ref(self, obj: Object, prop: Any, node: Node, src: Source) -> None:
        target = self.ids.get(node.value)
        if target is None:
            self.report(
                src, node, f"unknown id '{node.value}'{registry.suggest(node.value, self.ids)}"
            )
        elif not isinstance(target, prop.type):
            self.report(
                src,
                node,
                f"{prop.qualname} expects a {prop.type.__name__}, but "
                f"'{node.value}' is a {type_name(type(target))}",
            )
        else:
            problem = self.write(obj, prop, target)
            if problem:
                self.report(src, node, problem)

    def _compile(self, node: Node, src: Source, how: Any) -> Any:
        if (
            node.__class__ is not ScalarNode
            or node.tag not in (STR, BIND)
            or not node.value.strip()
        ):
            self.report(src, node, "expected an expression (text)")
            return None
        compiler = self.compiler
        try:
            line = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
            return how(compiler, node.value, line)
        except ExpressionError as exc:
            line, col = src.position(node, exc.line, exc.col)
            self.errors.add(AppError(src.name, line, col, exc.message + src.comma_hint(node)))
            return None

    def _bind(self, obj: Object, name: str, node: Node, src: Source) -> None:
        compiled = self._compile(
            node, src, lambda c, t, line: c.binding(type(obj), t, line, self.ids)
        )
        if compiled is not None:
            fn, names = compiled
            ids = self.ids
            obj.bind(
                name,
                partial(fn, obj, *[ids[n] for n in names]),
                location=src.location(node),
                source=node.value,
            )

    def _handler(self, obj: Object, key: Node, node: Node, src: Source) -> None:
        name = key.value
        signal_name = name[2].lower() + name[3:]
        target = obj
        attr = handler_target(type(obj))
        if attr is not None:
            target = getattr(obj, attr, None) or obj._v[1]
            if target is None:
                self.report(
                    src,
                    key,
                    f"{type_name(type(obj))} has no {attr} for handler '{name}' (set {attr}: ID)",
                )
                return
        signals = type(target)._signals
        signal = signals.get(signal_name)
        if signal is None:
            handlers = ["on" + s[0].upper() + s[1:] for s in signals]
            self.report(
                src,
                key,
                f"{type_name(type(target))} has no signal '{signal_name}' "
                f"for handler '{name}'{registry.suggest(name, handlers)}",
            )
            return
        code = self._compile(
            node, src, lambda c, t, line: c.handler(type(obj), t, signal.handler_args, line, name)
        )
        if code is None:
            return
        fn = signal.adapt_handler(partial(code, obj))
        fn.location = src.location(node)
        source_info.info(obj, create=True).handlers[name] = node.value
        if target is obj:
            BoundSignal(obj, signal).connect(fn)
        elif callable(getattr(type(obj), "connect", None)):
            obj.connect(signal_name, fn)  # Connections follows target changes itself
        else:
            BoundSignal(target, signal).connect(_guarded(obj, fn))


def handler_target(cls: type) -> str | None:
    """The property holding the object whose signals `onX` keys handle: a type declares it
    as the class attribute `handler_target` (Connections: "target"; none: its own)."""
    return getattr(cls, "handler_target", None)


def _guarded(conn: Object, fn: Any) -> Any:
    """A Connections handler runs only while the Connections object is `enabled`."""

    def handler(*args: Any) -> None:
        if getattr(conn, "enabled", True):
            fn(*args)

    handler.location = fn.location  # type: ignore[attr-defined]
    return handler
