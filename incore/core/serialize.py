"""State save and restore of an existing tree (InCore's serializeProperties & toJson).

Only serializable properties are written; enums by name, bytes as hex, references as the
referenced object's objectId. Children go under "objects" and are matched back by objectId,
else by position, so a restore never creates or deletes objects.

A restore is all or nothing: every value of the whole tree is first written to a dry copy of
its object (same properties, same converters and checks, hooks silenced), in the order the
real writes will take, and only when all of them fit is the tree changed. A key the type does
not know (state from another version of the app) is logged and skipped.
"""

from __future__ import annotations

import enum
import json
import logging
from typing import Any

from . import registry
from .property import Property

log = logging.getLogger("incore.serialize")

#: One object's share of a restore: the object and its (property, value) writes, in order.
Step = tuple[Any, list[tuple[Property, Any]]]


def encode_value(value: Any) -> Any:
    """A JSON-ready form of a property value."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, tuple):
        return [encode_value(v) for v in value]
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if hasattr(value, "_props"):  # an object reference
        return value.objectId or None
    return value


def decode_value(prop: Any, value: Any, root: Any = None) -> Any:
    """The inverse of encode_value for property `prop` (references resolved in `root`)."""
    if prop.type is bytes and isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(prop.type, type) and hasattr(prop.type, "_props"):
        if value is None or root is None:
            return None
        for obj in root.walk():
            if obj.objectId == value and isinstance(obj, prop.type):
                return obj
        return None
    return value


def serialize_properties(obj: Any) -> dict:
    out: dict[str, Any] = {}
    for p in type(obj)._prop_list:
        if p.serializable:
            out[p.name] = encode_value(p.peek(obj))
    children = [serialize_properties(c) for c in obj.children()]
    if children:
        out["objects"] = children
    return out


# -- checking before writing -----------------------------------------------------------------
def _write_order(write: tuple[Property, Any]) -> tuple[bool, int]:
    """Plain properties first: a property with its own write logic may check its value
    against the others (DataObject.data against dataType), so it must see their new values."""
    prop = write[0]
    return type(prop).write is not Property.write, prop.index


def _silent(self: Any, value: Any) -> None:
    """An on_write hook of a dry copy: a check must not act (connect, write to a PLC)."""


def _dry_type(cls: type) -> type:
    """`cls` with its on_write hooks silenced (made once per class, kept on the class)."""
    dry = cls.__dict__.get("_dry_type")
    if dry is None:
        hooks = {p.on_write: _silent for p in cls._prop_list if p.on_write}
        dry = type(cls)(cls.__name__, (cls,), {"__module__": __name__, **hooks}, register=False)
        cls._dry_type = dry
    return dry


def _dry_copy(obj: Any) -> Any:
    """An object of `obj`'s type holding its values, that no one observes."""
    dry = object.__new__(_dry_type(type(obj)))
    dry._v = list(obj._v)
    dry._obs = None
    dry._bindings = None
    dry._state = obj._state
    return dry


def _located(exc: Exception, obj: Any, prop: Property, where: str) -> Exception:
    """`exc` reworded to name the object's own type and where in the state it is."""
    label = f"{type(obj).__name__}.{prop.name}"
    text = str(exc)
    if text.startswith(prop.qualname):
        text = label + text[len(prop.qualname) :]
    elif not text.startswith(label):
        text = f"{label}: {text}"
    kind = type(exc) if type(exc) in (TypeError, ValueError) else ValueError
    return kind(f"{where}: {text}" if where else text)


def _check(obj: Any, writes: list[tuple[Property, Any]], where: str) -> None:
    """Raise if `obj` would refuse one of `writes` (given in restore order).

    They go to a dry copy of `obj`: each property judges its value with its own converter
    and checks, seeing the values written before it.
    """
    if not writes:
        return
    dry = _dry_copy(obj)
    for prop, value in writes:
        try:
            prop.write(dry, value, True)
        except (TypeError, ValueError) as exc:
            raise _located(exc, obj, prop, where) from exc


# -- restoring -------------------------------------------------------------------------------
def _require_mapping(data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"{where}: expected a mapping of properties, got {type(data).__name__}")


def _plan(obj: Any, data: Any, root: Any, where: str, steps: list[Step]) -> None:
    """Check `data` for `obj` and its children; add the writes to `steps` (raises if bad)."""
    _require_mapping(data, where or type(obj).__name__)
    props = type(obj)._props
    writes = []
    for name, value in data.items():
        if name == "objects":
            continue
        prop = props.get(name)
        if prop is None:
            log.warning(
                "%s%s has no property '%s'%s: skipped",
                f"{where}: " if where else "",
                type(obj).__name__,
                name,
                registry.suggest(name, props),
            )
            continue
        if not prop.serializable:
            continue  # read-only and transient properties are never restored
        try:
            writes.append((prop, decode_value(prop, value, root)))
        except (TypeError, ValueError) as exc:
            raise _located(exc, obj, prop, where) from exc
    writes.sort(key=_write_order)
    _check(obj, writes, where)
    steps.append((obj, writes))
    _plan_children(obj, data.get("objects"), root, where, steps)


def _plan_children(obj: Any, states: Any, root: Any, where: str, steps: list[Step]) -> None:
    if states is None:
        return
    prefix = f"{where}.objects" if where else "objects"
    if not isinstance(states, list):
        raise TypeError(f"{prefix}: expected a list of child states, got {type(states).__name__}")
    children = list(obj.children())
    by_id = {c.objectId: c for c in children if c.objectId}
    for position, state in enumerate(states):
        _require_mapping(state, f"{prefix}[{position}]")
        oid = state.get("objectId")
        child = by_id.get(oid) if oid else None
        if child is None and position < len(children):
            candidate = children[position]
            if not oid or not candidate.objectId:
                child = candidate
        if child is None:
            log.warning(
                "%s[%d]: no child of %r matches this state%s: skipped",
                prefix,
                position,
                obj,
                f" (objectId '{oid}')" if oid else "",
            )
            continue
        _plan(child, state, root, f"{prefix}[{position}]", steps)


def deserialize_properties(obj: Any, data: dict, root: Any = None) -> None:
    """Restore `obj` and its children from `data`, or raise and change nothing."""
    steps: list[Step] = []
    _plan(obj, data, root if root is not None else obj, "", steps)
    for target, writes in steps:
        for prop, value in writes:
            target.unbind(prop.name)
            prop.write(target, value, True)


def to_json(obj: Any, indent: int | None = None) -> str:
    return json.dumps(serialize_properties(obj), indent=indent, ensure_ascii=False)


def from_json(obj: Any, text: str) -> None:
    deserialize_properties(obj, json.loads(text))
