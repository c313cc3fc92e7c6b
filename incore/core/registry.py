"""The type registry: every Object type by name, with its properties, signals, methods, enums.

`incore types`, the JSON Schema, the reference docs and the app loader all read this one
source, so they can never disagree about what a type has.
"""
from __future__ import annotations

import difflib
import enum
from typing import Any, Callable, Iterator

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
        props.append({
            "name": p.name, "type": p.type_name, "default": _jsonable(p.initial()),
            "signal": p.name + "Changed", "writable": not p.readonly,
            "serializable": p.serializable, "doc": p.doc,
        })
    return {
        "name": cls.__name__,
        "doc": (cls.__doc__ or "").strip(),
        "inherits": [b.__name__ for b in cls.__mro__[1:] if b.__name__ in _types],
        "properties": props,
        "methods": [{"name": m.name, "doc": m.doc,
                     "args": list(m.fn.__code__.co_varnames[1:m.fn.__code__.co_argcount])}
                    for m in cls._methods.values()],
        "signals": [{"name": s.name, "args": list(s.args), "doc": s.doc}
                    for s in cls._signals.values() if not s.name.endswith("Changed")
                    or s.name[:-7] not in cls._props],
        "enums": [{"name": e.__name__, "doc": (e.__doc__ or "").strip()
                   if e.__doc__ != enum.IntEnum.__doc__ else "",
                   "values": [{"name": m.name, "value": m.value} for m in e]}
                  for e in cls._enums.values()],
        "accepts": [a if isinstance(a, str) else a.__name__ for a in cls.accepts],
    }


def _jsonable(v: Any) -> Any:
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, bytes):
        return list(v)
    if isinstance(v, tuple):
        return list(v)
    return v
