"""State save and restore of an existing tree (InCore's serializeProperties & toJson).

Only serializable properties are written; enums by name, bytes as hex, references as the
referenced object's objectId. Children go under "objects" and are matched back by objectId,
else by position, so a restore never creates or deletes objects.
"""
from __future__ import annotations

import enum
import json
from typing import Any


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


def deserialize_properties(obj: Any, data: dict, root: Any = None) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"{type(obj).__name__}: expected a mapping of properties")
    root = root if root is not None else obj
    props = type(obj)._props
    for name, value in data.items():
        if name == "objects":
            continue
        prop = props.get(name)
        if prop is None or not prop.serializable:
            continue  # state from another version of the app: skip what no longer exists
        obj.unbind(name)
        prop.write(obj, decode_value(prop, value, root), True)
    _restore_children(obj, data.get("objects") or [], root)


def _restore_children(obj: Any, states: list, root: Any) -> None:
    children = list(obj.children())
    by_id = {c.objectId: c for c in children if c.objectId}
    for position, state in enumerate(states):
        if not isinstance(state, dict):
            continue
        oid = state.get("objectId")
        child = by_id.get(oid) if oid else None
        if child is None and position < len(children):
            candidate = children[position]
            if not oid or not candidate.objectId:
                child = candidate
        if child is not None:
            deserialize_properties(child, state, root)


def to_json(obj: Any, indent: int | None = None) -> str:
    return json.dumps(serialize_properties(obj), indent=indent, ensure_ascii=False)


def from_json(obj: Any, text: str) -> None:
    deserialize_properties(obj, json.loads(text))
