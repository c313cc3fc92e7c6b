"""The JSON Schema (draft 2020-12) of app files, generated from the type registry.

It checks the JSON spelling of an app file: bindings as {"$bind": EXPR} and includes as
{"$include": FILE}. YAML's `!bind`/`!include` tags have no JSON Schema form; declare them to
the YAML language server as custom tags (`yaml.customTags: ["!bind scalar",
"!include scalar"]`) next to the `# yaml-language-server: $schema=...` line. A node that
declares custom `properties` may also set them by name, so such a node admits extra keys.

A property's declared range becomes `minimum`/`maximum`; its other rules (a check, the
parent property a modifier names, a type's whole-object check) have no JSON Schema form and
are said in its description. `incore validate` applies them all.

`incore schema -o schemas/incore-app.schema.json` writes the checked-in copy.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable
from typing import Any

from incore.core import Object, registry

from .declarations import PROPERTY_TYPES

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
HANDLER_PATTERN = r"^on[A-Z][A-Za-z0-9_]*$"
SCHEMA_FILE = "schemas/incore-app.schema.json"
DESCRIPTION = (
    "An incore app file: one object node (its type name as the only key). Bindings "
    'are {"$bind": EXPR} (YAML: !bind EXPR), includes {"$include": FILE} (YAML: '
    "!include FILE); declare !bind and !include as custom tags of the YAML language "
    "server."
)


def incore_types() -> list[type]:
    """The types incore itself provides (a user's own types join with `types=`)."""
    return [t for t in registry.types() if t.__module__.startswith("incore.")]


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    return None


def value_schema(prop: Any, owner: str) -> dict[str, Any]:
    """The literal values a property accepts in an app file."""
    if prop.schema is not None:
        return prop.schema
    t = prop.type
    if t is bool:
        return {"type": "boolean"}
    if t is int or t is float:
        out: dict[str, Any] = {"type": "integer" if t is int else "number"}
        if prop.minimum is not None:
            out["minimum"] = prop.minimum
        if prop.maximum is not None:
            out["maximum"] = prop.maximum
        return out
    if t is str:
        return {"type": "string"}
    if t is bytes:
        return {
            "anyOf": [
                {"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"},
                {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
            ]
        }
    if t is list:
        return {"type": "array"}
    if t is dict:
        return {"type": "object"}
    if isinstance(t, type) and issubclass(t, enum.Enum):
        names = [m.name for m in t]
        return {"enum": [*names, *(f"{owner}.{n}" for n in names), *(m.value for m in t)]}
    if isinstance(t, type) and issubclass(t, Object):
        return {
            "type": ["string", "null"],
            "pattern": ID_PATTERN,
            "description": f"the id of a {t.__name__}",
        }
    return {}


def allowed_text(doc: str, rules: str) -> str:
    """A property's description with its declared rules, as the schema and the docs say it."""
    if not rules:
        return doc
    return f"{doc} Allowed: {rules}." if doc else f"Allowed: {rules}."


def _property(prop: Any, owner: str) -> dict[str, Any]:
    out: dict[str, Any] = {"anyOf": [value_schema(prop, owner), {"$ref": "#/$defs/binding"}]}
    description = allowed_text(prop.doc, prop.rule_text())
    if description:
        out["description"] = description
    default = _jsonable(prop.initial())
    if default is not None:
        out["default"] = default
    return out


def _accepted(parent: type, types: list[type]) -> list[str] | None:
    """Names of the types `parent` takes as children (None: any)."""
    accepted = []
    for a in parent.accepts:
        if a == "Object" or a is Object:
            return None
        t = registry.get(a) if isinstance(a, str) else a
        if t is not None:
            accepted.append(t)
    return [t.__name__ for t in types if t.modifier or any(issubclass(t, a) for a in accepted)]


def _node(names: Iterable[str]) -> dict[str, Any]:
    return {
        "anyOf": [
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {n: {"$ref": f"#/$defs/type.{n}"} for n in names},
                "additionalProperties": False,
            },
            {"$ref": "#/$defs/include"},
        ]
    }


def _type(cls: type, children_ref: str) -> dict[str, Any]:
    owner = cls.__name__
    props: dict[str, Any] = {
        "id": {
            "type": "string",
            "pattern": ID_PATTERN,
            "description": "The name of this object in expressions of the file.",
        },
        "properties": {"$ref": "#/$defs/customProperties"},
        "signals": {"$ref": "#/$defs/customSignals"},
        "functions": {"$ref": "#/$defs/customFunctions"},
    }
    for p in cls._props.values():
        if p.name == "objects":
            props["objects"] = {
                "anyOf": [
                    {"type": "array", "items": {"$ref": children_ref}},
                    {"$ref": "#/$defs/include"},
                    {"type": "null"},
                ],
                "description": p.doc,
            }
        elif not p.readonly:
            props[p.name] = _property(p, owner)
    for s in cls._signals.values():
        key = "on" + s.name[0].upper() + s.name[1:]
        args = f"({', '.join(s.args)})" if s.args else "()"
        props[key] = {"type": "string", "description": f"Handler of {s.name}{args}. {s.doc}"}
    doc = (cls.__doc__ or "").strip().split("\n")[0]
    return {
        "type": ["object", "null"],
        "description": doc,
        "properties": props,
        "patternProperties": {HANDLER_PATTERN: {"type": "string"}},
        # custom properties may be set by name: only a node declaring them admits extra keys
        "if": {"type": "object", "required": ["properties"]},
        "then": {"additionalProperties": {}},
        "unevaluatedProperties": False,
    }


def generate_schema(types: Iterable[type] | None = None) -> dict[str, Any]:
    """The schema of app files for `types` (default: every type incore provides)."""
    types = sorted(incore_types() if types is None else types, key=lambda t: t.__name__)
    names = [t.__name__ for t in types]
    defs: dict[str, Any] = {
        "node": _node(names),
        "binding": {
            "type": "object",
            "properties": {"$bind": {"type": "string"}},
            "required": ["$bind"],
            "additionalProperties": False,
            "description": "A binding (YAML: !bind EXPR).",
        },
        "include": {
            "type": "object",
            "properties": {"$include": {"type": "string"}},
            "required": ["$include"],
            "additionalProperties": False,
            "description": "Objects from another file (YAML: !include FILE).",
        },
        "customProperties": {
            "type": ["object", "null"],
            "propertyNames": {"pattern": ID_PATTERN},
            "additionalProperties": {
                "anyOf": [
                    {"$ref": "#/$defs/propertyType"},
                    {
                        "type": "object",
                        "properties": {"type": {"$ref": "#/$defs/propertyType"}, "value": {}},
                        "required": ["type"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
        "propertyType": {"enum": [*PROPERTY_TYPES, *names]},
        "customSignals": {
            "anyOf": [
                {
                    "type": ["object", "null"],
                    "propertyNames": {"pattern": ID_PATTERN},
                    "additionalProperties": {
                        "type": ["array", "null"],
                        "items": {"type": "string", "pattern": ID_PATTERN},
                    },
                },
                {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}},
            ]
        },
        "customFunctions": {
            "type": ["object", "null"],
            "propertyNames": {"pattern": r"^[A-Za-z_]\w*\s*(\(.*\))?$"},
            "additionalProperties": {"type": "string"},
        },
    }
    children_defs: dict[tuple, str] = {}
    for cls in types:
        accepted = _accepted(cls, types)
        if accepted is None:
            ref = "#/$defs/node"
        else:
            key = tuple(accepted)
            if key not in children_defs:
                children_defs[key] = f"children.{cls.__name__}"
                defs[children_defs[key]] = _node(accepted)
            ref = f"#/$defs/{children_defs[key]}"
        defs[f"type.{cls.__name__}"] = _type(cls, ref)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "incore app file",
        "description": DESCRIPTION,
        "$ref": "#/$defs/node",
        "$defs": defs,
    }


def schema_text(types: Iterable[type] | None = None) -> str:
    """The schema as the checked-in file holds it."""
    return json.dumps(generate_schema(types), indent=2, ensure_ascii=False) + "\n"
