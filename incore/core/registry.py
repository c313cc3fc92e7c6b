"""The type registry: every Object type by name, with its properties, signals, methods, enums.

`incore types`, the JSON Schema, the reference docs and the app loader all read this one
source, so they can never disagree about what a type has, nor about the rules its values
follow (a Property's range and check, a ParentTarget, a type's `_check()` of the whole object).

It also remembers where a loaded object was declared (`location`), so an object's run-time
warnings can name the file and line the user has to look at.
"""

from __future__ import annotations

import difflib
import enum
import weakref
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

_types: dict[str, type] = {}
_pending_refs: list[Any] = []


def register(cls: type) -> type:
    """Make `cls` known by its class name (done by ObjectMeta for every public type)."""
    name = cls.__name__
    existing = _types.get(name)
    if existing is not None and existing is not cls and existing.__module__.startswith("incore"):
        if cls.__module__.startswith("incore"):
            raise TypeError(f"type name {name} is registered twice")
    _types[name] = cls
    return cls


def get(name: str) -> type | None:
    return _types.get(name)


def names() -> list[str]:
    return sorted(_types)


def types() -> Iterator[type]:
    for name in names():
        yield _types[name]


def suggest(name: str, candidates: Any) -> str:
    """' (did you mean 'x'?)' or ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def resolve_type(name_or_type: Any) -> Any:
    if isinstance(name_or_type, str):
        t = _types.get(name_or_type)
        if t is None:
            raise TypeError(f"unknown type {name_or_type!r}")
        return t
    return name_or_type


class Method:
    """A method exposed to app files and listed in the registry."""

    __slots__ = ("fn", "name", "doc")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.doc = (fn.__doc__ or "").strip().split("\n")[0]


def method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: list `fn` among the type's methods (docs, `incore types`)."""
    fn.__incore_method__ = True  # type: ignore[attr-defined]
    return fn


def describe(cls: type) -> dict[str, Any]:
    """A plain description of a type, for `incore types`, docs and the schema."""
    props = []
    for p in cls._props.values():
        props.append(
            {
                "name": p.name,
                "type": p.type_name,
                "default": _jsonable(p.initial()),
                "signal": p.name + "Changed",
                "writable": not p.readonly,
                "serializable": p.serializable,
                "doc": p.doc,
                "allowed": p.rule_text(),
                "minimum": p.minimum,
                "maximum": p.maximum,
            }
        )
    return {
        "name": cls.__name__,
        "doc": (cls.__doc__ or "").strip(),
        "inherits": [b.__name__ for b in cls.__mro__[1:] if b.__name__ in _types],
        "properties": props,
        "methods": [
            {
                "name": m.name,
                "doc": m.doc,
                "args": list(m.fn.__code__.co_varnames[1 : m.fn.__code__.co_argcount]),
            }
            for m in cls._methods.values()
        ],
        "signals": [
            {"name": s.name, "args": list(s.args), "doc": s.doc}
            for s in cls._signals.values()
            if not s.name.endswith("Changed") or s.name[:-7] not in cls._props
        ],
        "enums": [
            {
                "name": e.__name__,
                "doc": (e.__doc__ or "").strip() if e.__doc__ != enum.IntEnum.__doc__ else "",
                "values": [{"name": m.name, "value": m.value} for m in e],
            }
            for e in cls._enums.values()
        ],
        "accepts": [a if isinstance(a, str) else a.__name__ for a in cls.accepts],
    }


class Problem(NamedTuple):
    """A mistake a type's `_check()` finds in a whole object (rules across properties or
    children, e.g. two S7ServerArea children declaring the same area).

    The app loader reports it at the value of `prop` of `obj` ("" or a property not written
    in the file: at the object's type name), adding where `first` (obj, prop) was declared.
    """

    obj: Any
    prop: str
    message: str
    first: tuple[Any, str] | None = None


class ParentTarget:
    """The rule of a modifier's str property that names a property of its parent.

    `verb` says what the modifier does with it ("poll"); `requirement(parent_type, name)`
    returns why the parent's property `name` can not be a target ("" when it can);
    `description` says which properties can, for the docs.
    """

    __slots__ = ("verb", "requirement", "description")

    def __init__(
        self, verb: str, requirement: Callable[[type, str], str], description: str
    ) -> None:
        self.verb = verb
        self.requirement = requirement
        self.description = description

    def problem(self, prop: Any, obj: Any, name: str) -> str:
        """Why `name` can not be the target of `obj` (with its current parent), or ""."""
        parent = obj.parent
        owner = prop.owner.__name__ if prop.owner is not None else type(obj).__name__
        if parent is None:
            return f"{owner} has no parent to {self.verb}"
        parent_type = type(parent)
        pname = parent_type.__name__
        if not name:
            return f"{owner} under {pname}: '{prop.name}' names no property"
        if name not in parent_type._props:
            usable = [n for n in parent_type._props if not self.requirement(parent_type, n)]
            return f"{pname} has no property '{name}' to {self.verb}{suggest(name, usable)}"
        why = self.requirement(parent_type, name)
        return f"{pname} can not {self.verb} '{name}' ({why})" if why else ""


# -- where loaded objects were declared ------------------------------------------------------
_locations: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def set_location(obj: Any, where: str) -> None:
    """Remember that `obj` was declared at `where` ("FILE:LINE"); the app loader calls this."""
    _locations[obj] = where


def location(obj: Any) -> str:
    """Where `obj` was declared in its app file, as "FILE:LINE" ("" if made in Python)."""
    return _locations.get(obj, "")


def _jsonable(v: Any) -> Any:
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, bytes):
        return list(v)
    if isinstance(v, tuple):
        return list(v)
    return v
