"""Value conversion and checking per property type.

The same converters check app-file literals at load time and Python writes at run time,
so a value is judged by one rule everywhere. A converter returns the stored value or raises
TypeError/ValueError with a message that names the property and what it expects.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

ANY = object


def type_name(t: Any) -> str:
    if t is object:
        return "var"
    if isinstance(t, type):
        if issubclass(t, enum.Enum):
            return t.__name__
        return {
            bool: "bool",
            int: "int",
            float: "float",
            str: "str",
            bytes: "bytes",
            list: "list",
            dict: "dict",
        }.get(t, t.__name__)
    return str(t)


def _describe(value: Any) -> str:
    return (
        f"{type(value).__name__} {value!r}"
        if not isinstance(value, (list, dict))
        else type(value).__name__
    )


def converter_for(t: Any, qualname: str) -> Callable[[Any], Any]:
    """Build the converter for type `t` (called once per declared property)."""

    def fail(value: Any, expected: str) -> TypeError:
        return TypeError(f"{qualname} expects {expected}, got {_describe(value)}")

    if t is object:
        return lambda v: v
    if t is bool:

        def to_bool(v: Any) -> bool:
            if isinstance(v, bool):
                return v
            if isinstance(v, int) and v in (0, 1):
                return bool(v)
            raise fail(v, "a bool (true or false)")

        return to_bool
    if t is float:

        def to_float(v: Any) -> float:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
            raise fail(v, "a number")

        return to_float
    if t is int:

        def to_int(v: Any) -> int:
            if isinstance(v, bool):
                raise fail(v, "an integer")
            if isinstance(v, int):
                return int(v)
            if isinstance(v, float) and math.isfinite(v) and v.is_integer():
                return int(v)
            raise fail(v, "an integer")

        return to_int
    if t is str:

        def to_str(v: Any) -> str:
            if isinstance(v, str):
                return str(v)
            raise fail(v, "a string")

        return to_str
    if t is bytes:

        def to_bytes(v: Any) -> bytes:
            if isinstance(v, (bytes, bytearray, memoryview)):
                return bytes(v)
            if isinstance(v, list) and all(isinstance(b, int) and 0 <= b < 256 for b in v):
                return bytes(v)
            raise fail(v, "bytes (or a list of byte values)")

        return to_bytes
    if t is list:

        def to_list(v: Any) -> list:
            if isinstance(v, list):
                return v
            if isinstance(v, tuple):
                return list(v)
            raise fail(v, "a list")

        return to_list
    if t is dict:

        def to_dict(v: Any) -> dict:
            if isinstance(v, dict):
                return v
            raise fail(v, "a mapping")

        return to_dict
    if isinstance(t, type) and issubclass(t, enum.Enum):
        names = {m.name: m for m in t}
        names.update({f"{qualname.split('.')[0]}.{m.name}": m for m in t})

        def to_enum(v: Any) -> Any:
            if isinstance(v, t):
                return v
            if isinstance(v, str):
                member = names.get(v)
                if member is None and "." in v:
                    member = names.get(v.rsplit(".", 1)[1])
                if member is not None:
                    return member
                raise ValueError(
                    f"{qualname}: unknown {t.__name__} '{v}' "
                    f"(one of {', '.join(m.name for m in t)})"
                )
            if isinstance(v, int) and not isinstance(v, bool):
                try:
                    return t(v)
                except ValueError:
                    pass
            raise fail(v, f"a {t.__name__} ({', '.join(m.name for m in t)})")

        return to_enum
    if isinstance(t, type):

        def to_ref(v: Any) -> Any:
            if v is None or isinstance(v, t):
                return v
            raise fail(v, f"a {t.__name__} reference")

        return to_ref
    raise TypeError(f"{qualname}: unsupported property type {t!r}")
