"""Binding expressions and handler bodies, compiled once into plain Python functions.

Scope (app-format.md §4): the object's own properties, methods and signals by bare name,
`self`, `parent`, every id of the file, the signal's arguments, a few helpers, builtins.
Bare own names are rewritten to `self.<name>` in the AST, so the ids and helpers can live in
one plain dict of globals and evaluation costs no more than hand-written Python. A bare
assignment to an own property in a handler becomes a property write. A name that resolves
to nothing is an error at load time, not a NameError at run time.
"""

from __future__ import annotations

import ast
import builtins
import logging
import math
import time
from collections.abc import Callable, Container
from functools import partial
from typing import Any

from incore.core import object as core_object
from incore.core import registry

from .shapes import PLACEHOLDER, shape

console_log = logging.getLogger("incore.console")


class _Console:
    """InCore's `console.log/warn/error`, mapped to the `incore.console` logger."""

    __slots__ = ()

    @staticmethod
    def _text(args: tuple) -> str:
        return " ".join(str(a) for a in args)

    def log(self, *args: Any) -> None:
        console_log.info(self._text(args))

    info = log

    def debug(self, *args: Any) -> None:
        console_log.debug(self._text(args))

    def warn(self, *args: Any) -> None:
        console_log.warning(self._text(args))

    def error(self, *args: Any) -> None:
        console_log.error(self._text(args))


console = _Console()
HELPERS: dict[str, Any] = {"math": math, "time": time, "print": print, "console": console}
BUILTIN_NAMES = frozenset(dir(builtins))
RESERVED = frozenset(("self", "parent")) | HELPERS.keys()


class ExpressionError(ValueError):
    """A syntax error or unknown name, at `line` (1-based) and `col` (0-based) of the source."""

    def __init__(self, message: str, line: int = 1, col: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def new_globals(names: dict[str, Any] | None = None) -> dict[str, Any]:
    """The globals of one app file: helpers, type names (for enums such as `DataObject.Bad`
    and `S7Client.BigEndian`), then ids (added as the file is read; an id wins)."""
    g: dict[str, Any] = {"__builtins__": builtins}
    g.update(HELPERS)
    g.update((cls.__name__, cls) for cls in registry.types())
    if names:
        g.update(names)
    return g


_own_cache: dict[type, dict[str, Any]] = {}


def own_names(cls: type) -> dict[str, Any]:
    """Name -> Property, or "method"/"signal", for the bare names a type's expressions see."""
    own = _own_cache.get(cls)
    if own is None:
        own = {name: "signal" for name in cls._signals}
        own.update({name: "method" for name in cls._methods})
        own.update(cls._props)
        _own_cache[cls] = own
    return own


_LOAD = ast.Load()
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_BINDERS = (ast.Import, ast.ImportFrom, ast.ExceptHandler, ast.Global, ast.Nonlocal, ast.ClassDef)
_MATCH_NAMES = tuple(
    getattr(ast, n) for n in ("MatchAs", "MatchStar", "MatchMapping") if hasattr(ast, n)
)


def _params(args: ast.arguments) -> set[str]:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


def _targets(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if n.__class__ is ast.Name}


class _Rewriter:
    """One pass over the AST: own names -> self.<name>; unknown names collected as errors."""

    def __init__(self, own: dict[str, Any], known: Any, writable: bool, locals_: set[str]):
        self.own = own
        self.known = known
        self.writable = writable
        self.locals = locals_
        self.loads: list[ast.Name] = []
        self.error: ExpressionError | None = None

    def fail(self, node: ast.AST, message: str) -> None:
        if self.error is None:
            self.error = ExpressionError(message, node.lineno, node.col_offset)

    def walk(self, node: ast.AST, shadow: frozenset) -> None:
        cls = node.__class__
        if cls in _FUNCTIONS:
            shadow = shadow | _params(node.args)
            if cls is not ast.Lambda:
                self.locals.add(node.name)
        elif cls in _COMPREHENSIONS:
            shadow = shadow | set().union(*(_targets(g.target) for g in node.generators))
        elif cls in _BINDERS or cls in _MATCH_NAMES:
            self._bind_names(node)
        for field in cls._fields:
            value = getattr(node, field, None)
            if value.__class__ is list:
                for i, item in enumerate(value):
                    if item.__class__ is ast.Name:
                        new = self.name(item, shadow)
                        if new is not item:
                            value[i] = new
                    elif isinstance(item, ast.AST):
                        self.walk(item, shadow)
            elif value.__class__ is ast.Name:
                new = self.name(value, shadow)
                if new is not value:
                    setattr(node, field, new)
            elif isinstance(value, ast.AST):
                self.walk(value, shadow)

    def _bind_names(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.locals.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.locals.update(node.names)
        else:
            for attr in ("name", "rest"):
                value = getattr(node, attr, None)
                if isinstance(value, str):
                    self.locals.add(value)

    def name(self, node: ast.Name, shadow: frozenset) -> ast.AST:
        ident = node.id
        if ident in shadow:
            return node
        ctx = node.ctx.__class__
        kind = self.own.get(ident)
        if kind is None:
            if ctx is ast.Load:
                self.loads.append(node)
            elif ident == "self":
                self.fail(node, "cannot assign to self")
            else:
                self.locals.add(ident)
            return node
        if ctx is not ast.Load:
            if not self.writable:
                self.fail(node, f"cannot assign to property '{ident}' in a binding")
            elif kind in ("method", "signal"):
                self.fail(node, f"cannot assign to {kind} '{ident}'")
            elif kind.readonly:
                self.fail(node, f"{kind.qualname} is read-only")
        line, col = node.lineno, node.col_offset
        this = _locate(ast.Name("self", _LOAD), line, col)
        attr = _locate(ast.Attribute(value=this, attr=ident, ctx=node.ctx), line, col)
        attr.end_lineno, attr.end_col_offset = node.end_lineno, node.end_col_offset
        return attr

    def check_loads(self) -> None:
        for node in self.loads:
            ident = node.id
            if (
                ident not in self.locals
                and ident not in self.known
                and ident != "self"
                and ident not in BUILTIN_NAMES
            ):
                candidates = [
                    *self.own,
                    *self.locals,
                    *(k for k in self.known if not k.startswith("__")),
                ]
                self.fail(node, f"unknown name '{ident}'{registry.suggest(ident, candidates)}")
                return


def _locate(node: Any, line: int, col: int) -> Any:
    node.lineno = line
    node.col_offset = col
    node.end_lineno = line
    node.end_col_offset = col
    return node


def _function_def(name: str, params: list[str], body: list[ast.stmt]) -> ast.stmt:
    at = body[0]
    line, col = at.lineno, at.col_offset
    args = ast.arguments(
        posonlyargs=[],
        args=[_locate(ast.arg(p), line, col) for p in params],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    fn = ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None)
    if _TYPE_PARAMS:
        fn.type_params = []
    return _locate(fn, line, col)


_TYPE_PARAMS = "type_params" in ast.FunctionDef._fields


class Compiler:
    """Compiles the expressions of one file against its globals (ids + helpers).

    Each expression becomes a function of `self` (plus the signal's arguments for a
    handler), compiled once per (type, text) and shared by every object that has it; the
    caller binds it to its object with functools.partial.
    """

    def __init__(self, globals_: dict[str, Any], filename: str = "<expression>") -> None:
        self.globals = globals_
        self.filename = filename
        self._cache: dict[tuple, Callable[..., Any]] = {}

    def binding(
        self, cls: type, source: str, line: int = 1, ids: Container[str] = ()
    ) -> tuple[Callable[..., Any], tuple[str, ...]]:
        """(fn, names): fn(self, *objects named by names) evaluates the expression.

        With `ids` (the file's ids, fixed once loaded), bindings that differ only in the ids
        they read share one function (see shapes.py).
        """
        shaped = shape(source, own_names(cls), ids) if ids else None
        if shaped is not None and shaped[1]:
            text, names = shaped
            key = (cls, (), text)
            fn = self._cache.get(key)
            if fn is None:
                params = [PLACEHOLDER.format(i) for i in range(len(names))]
                try:
                    fn = self._build(
                        cls, text, self._parse_binding(text), params, line, False, "binding"
                    )
                except ExpressionError:  # report it at its place in the text as written
                    return self.binding(cls, source, line)
                self._cache[key] = fn
            return fn, names
        key = (cls, (), source)
        fn = self._cache.get(key)
        if fn is None:
            fn = self._build(cls, source, self._parse_binding(source), [], line, False, "binding")
            self._cache[key] = fn
        return fn, ()

    def handler(
        self, cls: type, source: str, args: tuple = (), line: int = 1, name: str = "handler"
    ) -> Callable[..., Any]:
        """fn(self, *signal_args) running the statements."""
        key = (cls, args, source)
        fn = self._cache.get(key)
        if fn is None:
            body = self._parse(source, "exec").body
            fn = self._build(cls, source, body, list(args), line, True, name)
            self._cache[key] = fn
        return fn

    def function(
        self, cls: type, name: str, params: list[str], source: str, line: int = 1
    ) -> Callable[..., Any]:
        """A method `name(self, *params)` with the body `source`."""
        body = self._parse(source, "exec").body
        return self._build(cls, source, body, params, line, True, name)

    # -- internals ---------------------------------------------------------------------------
    def _parse(self, source: str, mode: str) -> Any:
        try:
            return ast.parse(source, self.filename, mode)
        except SyntaxError as exc:
            raise ExpressionError(
                f"syntax error: {exc.msg}", exc.lineno or 1, max((exc.offset or 1) - 1, 0)
            ) from None

    def _parse_binding(self, source: str) -> list[ast.stmt]:
        try:
            tree = ast.parse(source, self.filename, "eval")
        except SyntaxError:
            # Not one expression: a block of statements whose value is what it returns (or
            # its last expression). Its syntax errors have the more precise positions.
            block = self._parse(source, "exec").body
            if block and block[-1].__class__ is ast.Expr:
                last = block[-1]
                block[-1] = ast.copy_location(ast.Return(last.value), last)
            return block
        expr = tree.body
        return [_locate(ast.Return(expr), expr.lineno, expr.col_offset)]

    def _build(
        self,
        cls: type,
        source: str,
        body: list[ast.stmt],
        params: list[str],
        line: int,
        writable: bool,
        name: str,
    ) -> Callable[..., Any]:
        rewriter = _Rewriter(own_names(cls), self.globals, writable, set(params))
        # Signal arguments and function parameters are the innermost scope: they shadow the
        # object's own properties of the same name, as signal parameters do in QML.
        for stmt in body:
            rewriter.walk(stmt, frozenset(params))
        rewriter.check_loads()
        error = rewriter.error
        if error is not None:
            if error.line <= source.count("\n") + 1:  # ast columns count UTF-8 bytes
                text = source.split("\n")[error.line - 1].encode()
                error.col = len(text[: error.col].decode(errors="ignore"))
            raise error
        if not body:
            body = [_locate(ast.Pass(), 1, 0)]
        fn = _function_def(name, ["self", *params], body)
        code = compile(ast.Module(body=[fn], type_ignores=[]), self.filename, "exec")
        if line > 1:  # tracebacks show the line in the app file
            code = code.replace(
                co_consts=tuple(
                    c.replace(co_firstlineno=c.co_firstlineno + line - 1)
                    if hasattr(c, "co_code")
                    else c
                    for c in code.co_consts
                )
            )
        namespace: dict[str, Any] = {}
        exec(code, self.globals, namespace)
        return namespace[name]


def compile_python_binding(obj: Any, source: str, scope: dict, location: str) -> Callable[[], Any]:
    """`obj.bind("x", "a.b * 2")` from Python (the core calls this).

    Names are those of `scope=` if given, else the ids of the app file `obj` was loaded
    from, else the objectIds of the tree `obj` is in.
    """
    from .source import file_scope

    if scope:
        names = new_globals(scope)
    else:
        names = file_scope(obj)
        if names is None:
            root = obj
            while root._v[1] is not None:
                root = root._v[1]
            names = new_globals({o.objectId: o for o in root.walk() if o.objectId.isidentifier()})
    fn, _ = Compiler(names, location or "<binding>").binding(type(obj), source)
    return partial(fn, obj)


core_object.set_expression_compiler(compile_python_binding)
