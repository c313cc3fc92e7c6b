"""Reading app files: YAML 1.2 scalars, `!bind`/`!include` tags, marks on every node.

The builder works on PyYAML's composed node graph rather than constructed Python data, so
every key and value keeps its line and column for free (libyaml creates the marks in C).
Scalars resolve by the YAML 1.2 core schema: only true/false are booleans, so `on:` is the
string "on"; `010` is ten; dates stay strings. `!!binary` base64 text is bytes (initial
memory of an S7ServerArea, any bytes property). A `.json` file goes through the same path
(JSON is YAML 1.2), with JSON's NaN/Infinity accepted as floats.
"""

from __future__ import annotations

import base64
import binascii
import gc
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

from .errors import AppError

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
BINARY = "tag:yaml.org,2002:binary"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
BIND = "!bind"
INCLUDE = "!include"

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN"
)
_JSON_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=\s]")
# First characters that can start anything but a string (everything else is a string).
_SPECIAL_START = frozenset("0123456789+-.~nNtTfF")


def scalar_tag(value: str, json: bool = False) -> str:
    """The YAML 1.2 core-schema tag of a plain scalar."""
    if not value:
        return NULL
    if value[0] not in _SPECIAL_START and not (json and value[0] == "I"):
        return STR
    if value in _NULLS:
        return NULL
    if value in _BOOLS:
        return BOOL
    if _INT.fullmatch(value):
        return INT
    if _FLOAT.fullmatch(value) or (json and value in _JSON_FLOATS):
        return FLOAT
    return STR


def to_int(value: str) -> int:
    if value.startswith(("0o", "0x")):
        return int(value, 0)
    return int(value, 10)


def to_float(value: str) -> float:
    special = _JSON_FLOATS.get(value)
    if special is not None:
        return special
    lowered = value.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(value)


def to_bytes(value: str) -> bytes:
    """The bytes of `!!binary` text: base64, whitespace (line breaks) ignored; ValueError
    says what is wrong."""
    bad = _NOT_BASE64.search(value)
    if bad is not None:
        raise ValueError(f"{bad.group()!r} is not a base64 character")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error as exc:
        text = str(exc).rstrip(".")
        raise ValueError(text[:1].lower() + text[1:]) from None


def scalar(node: ScalarNode) -> Any:
    """The Python value of a scalar node (by its resolved or explicit tag)."""
    tag = node.tag
    value = node.value
    if tag == STR:
        return value
    if tag == INT:
        return to_int(value)
    if tag == FLOAT:
        return to_float(value)
    if tag == BOOL:
        return _BOOLS.get(value, value.lower() == "true")
    if tag == NULL:
        return None
    if tag == BINARY:
        return to_bytes(value)
    return value


_CHECKED = frozenset((INT, FLOAT, BOOL, NULL, BINARY))


def _explicit_problem(node: Node) -> str | None:
    """What is wrong with a node whose explicit core tag (`!!int x`) its text does not fit."""
    tag = node.tag
    if tag == BINARY and node.__class__ is not ScalarNode:
        return "!!binary takes base64 text"
    if node.__class__ is not ScalarNode or tag not in _CHECKED:
        return None
    value = node.value
    if tag == BINARY:
        try:
            to_bytes(value)
        except ValueError as exc:
            return f"!!binary is not base64: {exc}"
        return None
    if scalar_tag(value) == tag or (tag == FLOAT and scalar_tag(value) == INT):
        return None
    kind = tag.rsplit(":", 1)[1]
    return f"{value!r} is not a YAML {kind} (tagged !!{kind})"


def check_explicit(root: Node, name: str) -> None:
    """Raise AppError at the first node whose explicit core tag does not fit its text.

    Only a file that spells such a tag is walked (`!!` or a `tag:yaml.org` prefix), so
    loading a plain file costs one substring search.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        problem = _explicit_problem(node)
        if problem is not None:
            raise AppError.at(name, node.start_mark, problem)
        if node.__class__ is SequenceNode:
            stack.extend(reversed(node.value))
        elif node.__class__ is not ScalarNode:
            for k, v in reversed(node.value):
                stack.extend((v, k))


class _Yaml12:
    """Resolver mixin: YAML 1.2 core schema, no path resolvers (cheap per scalar)."""

    json_floats = False

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return scalar_tag(value, self.json_floats) if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class Bind(str):
    """`!bind EXPR` when an app file is read as plain data (yaml.load with AppLoader)."""


class Include(str):
    """`!include FILE` when an app file is read as plain data."""


def _construct_scalar_value(loader: Any, node: ScalarNode) -> Any:
    return scalar(node)


def _install_constructors(cls: type) -> None:
    for tag in (INT, FLOAT, BOOL, NULL):
        cls.add_constructor(tag, _construct_scalar_value)
    cls.add_constructor(BIND, lambda loader, node: Bind(node.value))
    cls.add_constructor(INCLUDE, lambda loader, node: Include(node.value))


class AppLoader(_Yaml12, yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and the `!bind`/`!include` tags (pure Python)."""


class JsonAppLoader(AppLoader):
    json_floats = True


_install_constructors(AppLoader)

if yaml.__with_libyaml__:

    class CAppLoader(_Yaml12, yaml.CSafeLoader):
        """The same loader on libyaml (about 20x faster to parse)."""

    class CJsonAppLoader(CAppLoader):
        json_floats = True

    _install_constructors(CAppLoader)
    _LOADERS = {False: CAppLoader, True: CJsonAppLoader}
else:  # pragma: no cover - libyaml is part of the usual PyYAML wheels
    _LOADERS = {False: AppLoader, True: JsonAppLoader}


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic GC while a large tree is allocated.

    Building 100,000 nodes and objects would otherwise trigger full collections that scan
    everything built so far, which makes loading quadratic in practice.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def is_json(name: str) -> bool:
    """JSON is read by extension; "<json>" names a JSON document given as text."""
    return name.lower().endswith(".json") or name == "<json>"


def compose(text: str, name: str) -> Node | None:
    """Parse `text` into a node graph; a syntax error raises AppError at its position."""
    loader = _LOADERS[is_json(name)](text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise syntax_error(exc, text, name) from None
    except yaml.YAMLError as exc:
        raise AppError(name, 1, 1, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    if node is not None and ("!!" in text or "tag:yaml.org" in text):
        check_explicit(node, name)
    return node


def _closes(text: str, line: int, column: int) -> bool:
    """Whether the `{` or `[` at (line, column) has its closing bracket later in `text`
    (quoted text and comments skipped): if so, a parse error inside it is not about it."""
    lines = text.split("\n")
    pos = sum(len(t) + 1 for t in lines[:line]) + column
    depth, i, n = 0, pos, len(text)
    while i < n:
        c = text[i]
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return True
        elif c in "\"'":
            i += 1
            while i < n and text[i] != c:
                i += 2 if c == '"' and text[i] == "\\" else 1
        elif c == "#" and text[i - 1] in " \t\n":
            while i < n and text[i] != "\n":
                i += 1
        i += 1
    return False


def syntax_error(exc: yaml.MarkedYAMLError, text: str, name: str) -> AppError:
    """The AppError of a YAML syntax error, at its cause where PyYAML knows it.

    An unclosed `{`, `[` or quote is only noticed where the parser gives up, often the end
    of the file; the error then points at the opening character, which is what to fix.
    """
    mark, opened = exc.problem_mark or exc.context_mark, exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    unclosed = False
    if opened is not None and exc.problem_mark is not None:
        if exc.context == "while scanning a quoted scalar":
            unclosed = "end of stream" in problem
        elif exc.context in ("while parsing a flow mapping", "while parsing a flow sequence"):
            unclosed = not _closes(text, opened.line, opened.column)
    if unclosed:
        line = text.split("\n")[opened.line]
        char = line[opened.column] if opened.column < len(line) else "opening character"
        end = exc.problem_mark
        what = "the file ends" if "end of stream" in problem else problem
        return AppError.at(
            name,
            opened,
            f"YAML syntax error: this {char!r} is not closed "
            f"({what} at {end.line + 1}:{end.column + 1})",
        )
    context = ""
    if exc.context and exc.problem and opened is not None:
        context = f" ({exc.context} at {opened.line + 1}:{opened.column + 1})"
    return AppError.at(name, mark, f"YAML syntax error: {problem}{context}")


def read_text(path: str, display: str | None = None) -> str:
    """The file's text; an unreadable file is an AppError naming the file."""
    name = display or path
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except FileNotFoundError:
        raise AppError(name, 1, 1, "file not found") from None
    except UnicodeDecodeError as exc:
        raise AppError(name, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise AppError(name, 1, 1, f"cannot read file: {exc.strerror}") from None


def to_data(node: Node, tagged: Callable[[Node], Any] | None = None) -> Any:
    """Plain Python data of a node; `tagged(node)` turns a `!bind`/`!include` node into a value.

    Without `tagged`, `!bind X` becomes {"$bind": X}, `!include F` {"$include": F} and
    `!!binary` its bytes in hex: the JSON spelling, which is what the JSON Schema checks.
    """
    if node.tag[0] == "!":
        if tagged is not None:
            return tagged(node)
        return {"$" + node.tag[1:]: node.value}
    if node.__class__ is ScalarNode:
        value = scalar(node)
        return value.hex() if tagged is None and value.__class__ is bytes else value
    if node.__class__ is SequenceNode:
        return [to_data(item, tagged) for item in node.value]
    return {
        k.value if k.__class__ is ScalarNode else str(to_data(k, tagged)): to_data(v, tagged)
        for k, v in node.value
    }


def load_data(path: str) -> Any:
    """An app file as plain data in its JSON spelling (for schema checks and tools)."""
    text = read_text(path)
    with no_gc():
        node = compose(text, path)
        return None if node is None else to_data(node)
