"""Whole-tree JSON documents (§9): dumps/loads round trip as a law, for every type."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import pytest
from app_types import XItem, XRoot, XSensor
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import incore
from incore.core import Object, registry

GOOD = Path(__file__).parent / "good"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(st.characters(blacklist_categories=("Cs",)))
)
json_keys = st.text(st.characters(blacklist_categories=("Cs",))).filter(
    lambda k: not k.startswith("$")
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_keys, inner, max_size=3),
    max_leaves=6,
)


def strategy_for(prop, parent: Object) -> st.SearchStrategy:
    t = prop.type
    if prop.targets is not None:  # names a property of the parent: one it may name
        return st.sampled_from(
            [n for n in type(parent)._props if not prop.targets.requirement(type(parent), n)]
        )
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return st.sampled_from(list(t))
    return {
        bool: st.booleans(),
        int: st.integers(-(2**31), 2**31),
        float: st.floats(allow_nan=False),
        str: st.text(st.characters(blacklist_categories=("Cs",))),
        bytes: st.binary(max_size=8),
        list: st.lists(json_values, max_size=3),
        dict: st.dictionaries(json_keys, json_values, max_size=3),
    }.get(t, json_values if t is object else st.none())


def writable(cls: type) -> list:
    return [p for p in cls._prop_list if p.serializable and p.name != "objects"]


def home(cls: type) -> tuple[Object, Object]:
    """(root, parent) of a tree in which an object of `cls` may be: the law is about the
    trees an app file can hold, and loading refuses what `incore validate` refuses.

    A type that names `cls` as a child (S7Client for S7Variable) and may stand at the root
    is its parent; a modifier
    whose property names a property of its parent (Polling.on) goes under XSensor.
    """
    if any(p.targets is not None for p in cls._props.values()):
        parent: Object = XSensor()
        return XRoot(objects=[parent]), parent
    for t in registry.types():  # a parent that may itself stand at the root (not ModbusSlave)
        if cls.__name__ in t.accepts:
            parent = t()
            root = XRoot(objects=[parent])
            if not list(getattr(parent, "_check", lambda: ())()):
                return root, parent
    root = XRoot()
    return root, root


@pytest.mark.parametrize("type_name", registry.names())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_law_for_every_registered_type(type_name: str, data) -> None:
    cls = registry.get(type_name)
    root, parent = home(cls)
    obj = cls(parent)
    for prop in writable(cls):
        value = data.draw(strategy_for(prop, parent), label=prop.name)
        try:
            if not prop.problem(prop.convert(value), obj):  # else its declared rules refuse it
                setattr(obj, prop.name, value)
        except (TypeError, ValueError):
            pass  # the type refuses this value: the property keeps its own
    check = getattr(obj, "_check", None)
    if check is not None:  # a rule across properties (a table and a dataType that do not fit)
        for problem in list(check()):  # puts back the property it names, as a user would
            if problem.obj is obj and problem.prop in cls._props:
                prop = cls._props[problem.prop]
                setattr(obj, prop.name, prop.default)
    assume(check is None or not list(check()))  # a tree validate refuses is no app
    text = incore.dumps(root)
    again = incore.loads(text)
    (copy,) = again.children() if parent is root else again.children()[0].children()
    assert type(copy) is cls
    assert copy.serializeProperties() == obj.serializeProperties()
    assert incore.dumps(again) == text


def test_document_of_a_loaded_app_is_a_runnable_json_app(tmp_path) -> None:
    app = incore.load_app(GOOD / "tank.yaml")
    text = incore.dumps(app.root)
    doc = json.loads(text)
    objects = doc["Application"]["objects"]
    assert objects[2]["Measurement"]["data"] == {"$bind": "level.data * 100.0 / 200.0"}
    assert objects[1]["DataObject"]["signals"] == {"alarm": ["level", "text"]}
    assert objects[3]["Timer"]["onTriggered"].startswith("if level.data > 90:")
    path = tmp_path / "dumped.json"
    path.write_text(text)
    again = incore.load_app(path)
    assert set(again.ids) == set(app.ids)
    assert incore.dumps(again.root) == text
    again.ids["level"].data = 100.0
    assert again.ids["percent"].data == 50.0  # bindings live again
    again.ids["tank"].setpoint = 1.0
    again.ids["tank"].reset()
    assert again.ids["tank"].setpoint == 21.5  # functions too


def test_ids_handlers_custom_members_and_references_round_trip(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            other: b
            kind: Beta
            blob: "00ff"
            onFired: print("fired", n)
        - XItem:
            id: b
            properties: {extra: {type: int, value: 3}}
            functions:
              twice(x): return x * 2
            count: !bind twice(a.count)
    """)
    again = incore.loads(incore.dumps(app.root))
    a, b = again.children()
    assert a.other is b and a.kind is XItem.Kind.Beta and a.blob == b"\x00\xff"
    assert b.extra == 3
    a.count = 4
    assert b.count == 8
    a.fired.emit(1, "")
    assert capsys.readouterr().out == "fired 1\n"


def test_unnamed_referenced_objects_get_an_id() -> None:
    root = XRoot()
    target = XItem(root, count=1)
    XItem(root, other=target)
    again = incore.loads(incore.dumps(root))
    first, second = again.children()
    assert second.other is first


def test_python_bindings_without_source_are_written_as_values() -> None:
    root = XRoot()
    a = XItem(root, count=2)
    b = XItem(root)
    b.bind("count", lambda: a.count * 5)
    (_, doc_b) = json.loads(incore.dumps(root))["XRoot"]["objects"]
    assert doc_b == {"XItem": {"count": 10}}


def test_loads_rejects_a_bad_document_with_its_position() -> None:
    with pytest.raises(incore.AppError) as info:
        incore.loads('{"XRoot": {"nope": 1}}')
    assert str(info.value) == "<json>:1:12: XRoot has no property 'nope'"


def test_non_finite_floats_round_trip() -> None:
    root = XRoot(objects=[XItem(data=float("inf")), XItem(data=float("-inf"))])
    again = incore.loads(incore.dumps(root))
    assert [c.data for c in again.children()] == [float("inf"), float("-inf")]
