"""The shape of app files (§1): nodes, YAML 1.2 scalars, ids, references, includes, JSON,
--set overrides, and that loading completes and starts nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from app_types import XItem, XModifier

import incore
from incore.app.yamlfile import AppLoader, Bind, Include, load_data

GOOD = Path(__file__).parent / "good"


def test_a_node_is_its_type_with_properties_and_children(load) -> None:
    app = load("""\
    XRoot:
      name: plant
      objects:
        - XItem: {id: a, count: 3}
        - XItem:
            objects:
              - XItem: {label: inner}
        - XLeaf:
    """)
    root = app.root
    assert type(root).__name__ == "XRoot" and root.name == "plant"
    a, b, leaf = root.children()
    assert a.count == 3 and app.ids == {"a": a}
    assert b.children()[0].label == "inner" and b.children()[0].parent is b
    assert type(leaf).__name__ == "XLeaf" and leaf.parent is root
    assert app.path == "app.yaml"


def test_only_true_and_false_are_booleans_and_on_is_a_string(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            flag: true
            items: [on, off, yes, no, y, n, True, FALSE]
            table: {on: 1, off: 2}
            objects:
              - XModifier: {on: data, interval: 100}
    """)
    a = app.ids["a"]
    assert a.flag is True
    assert a.items == ["on", "off", "yes", "no", "y", "n", True, False]
    assert a.table == {"on": 1, "off": 2}
    modifier = a.children()[0]
    assert isinstance(modifier, XModifier) and modifier.on == "data"


def test_polling_on_loads_as_the_string_key(load) -> None:
    app = load("""\
    Application:
      objects:
        - DataObject:
            id: level
            functions: {pollData: pass}
            objects:
              - Polling: {on: data, interval: 100}
    """)
    polling = app.ids["level"].children()[0]
    assert polling.on == "data" and polling.interval == 100
    assert not polling.isCompleted


@pytest.mark.parametrize(
    "text, value",
    [
        ("010", 10),
        ("0x1F", 31),
        ("0o17", 15),
        ("-7", -7),
        ("1e3", 1000.0),
        ("1.5", 1.5),
        (".inf", math.inf),
        ("-.inf", -math.inf),
        ("2024-01-01", "2024-01-01"),
        ("~", None),
        ("null", None),
        ("'true'", "true"),
        ("1_000", "1_000"),
        ("0b11", "0b11"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    assert yaml.load(f"v: {text}", Loader=AppLoader) == {"v": value}


def test_app_loader_is_a_safe_loader_with_the_app_tags() -> None:
    data = yaml.load("a: !bind x.y * 2\nb: !include f.yaml\non: 1\n", Loader=AppLoader)
    assert data == {"a": "x.y * 2", "b": "f.yaml", "on": 1}
    assert isinstance(data["a"], Bind) and isinstance(data["b"], Include)
    assert issubclass(AppLoader, yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError):
        yaml.load("a: !!python/object:os.system x", Loader=AppLoader)


def test_marks_of_every_node_survive(tmp_path) -> None:
    node = yaml.compose("XRoot:\n  name: x\n", Loader=AppLoader)
    key, body = node.value[0]
    assert (key.start_mark.line, key.start_mark.column) == (0, 0)
    assert (body.value[0][1].start_mark.line, body.value[0][1].start_mark.column) == (1, 8)


def test_enums_by_bare_name_qualified_name_or_value(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, kind: Beta}
        - XItem: {id: b, kind: XItem.Beta}
        - XItem: {id: c, kind: 2}
    """)
    assert {app.ids[i].kind for i in "abc"} == {XItem.Kind.Beta}


def test_id_references_may_point_forward(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, other: b}
        - XItem: {id: b, other: a}
        - XItem: {id: c, other: null}
    """)
    a, b, c = (app.ids[i] for i in "abc")
    assert a.other is b and b.other is a and c.other is None


def test_object_id_is_a_property_apart_from_id(load) -> None:
    app = load("XRoot:\n  objects:\n    - XItem: {id: a, objectId: pump1}\n")
    a = app.ids["a"]
    assert a.objectId == "pump1"
    assert "id" not in json.loads(a.toJson())


def test_bytes_from_hex_or_byte_list(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, blob: "0aff"}
        - XItem: {id: b, blob: [1, 2, 255]}
    """)
    assert app.ids["a"].blob == b"\x0a\xff" and app.ids["b"].blob == b"\x01\x02\xff"


def test_loading_completes_and_starts_nothing(load) -> None:
    app = load("""\
    Application:
      objects:
        - Timer: {id: tick, interval: 10, onTriggered: print("tick")}
    """)
    assert not any(o.isCompleted for o in app.root.walk())
    assert app.ids["tick"].running  # the property says so; nothing runs before complete()


def test_include_inserts_a_node_or_a_list_relative_to_the_file() -> None:
    app = incore.load_app(GOOD / "tank.yaml")
    assert {"slow", "tick", "tank", "level", "percent"} == set(app.ids)
    timers = [o for o in app.root.children() if type(o).__name__ == "Timer"]
    assert [t.interval for t in timers] == [1000, 5000, 10000]  # bound across files
    app.ids["slow"].interval = 100
    assert timers[2].interval == 200


def test_include_of_a_single_node(tmp_path, load) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "one.yaml").write_text("XItem: {id: inner, count: !bind outer.count}\n")
    (tmp_path / "main.yaml").write_text(
        "XRoot:\n  objects:\n    - XItem: {id: outer, count: 4}\n    - !include sub/one.yaml\n"
    )
    app = incore.load_app(tmp_path / "main.yaml")
    assert app.ids["inner"].count == 4 and app.ids["inner"].parent is app.root


def test_objects_may_be_an_include_of_a_list(tmp_path) -> None:
    (tmp_path / "list.yaml").write_text("- XItem: {count: 1}\n- XItem: {count: 2}\n")
    (tmp_path / "main.yaml").write_text("XRoot:\n  objects: !include list.yaml\n")
    root = incore.load_app(tmp_path / "main.yaml").root
    assert [c.count for c in root.children()] == [1, 2]


def test_json_app_file_is_equally_valid() -> None:
    yaml_app = incore.load_app(GOOD / "tank.yaml")
    json_app = incore.load_app(GOOD / "tank.json")
    assert json_app.ids["percent"].data == yaml_app.ids["percent"].data == 21.0
    json_app.ids["level"].data = 100.0
    assert json_app.ids["percent"].data == 50.0
    assert json_app.ids["level"].children()[0].on == "data"


def test_json_spelling_of_tags_is_what_load_data_gives() -> None:
    data = load_data(str(GOOD / "tank.yaml"))
    objects = data["Application"]["objects"]
    assert objects[2]["Measurement"]["data"] == {"$bind": "level.data * 100.0 / 200.0"}
    assert objects[-1] == {"$include": "parts/timers.yaml"}


def test_overrides_apply_before_bindings_and_completion(load) -> None:
    app = load(
        """\
    XRoot:
      objects:
        - XItem: {id: a, count: 1, label: x}
        - XItem: {id: b, count: !bind a.count * 2, kind: Alpha}
        - XItem: {id: c}
    """,
        overrides=("a.count=5", "b.kind=Beta", "a.label=on", "c.other=a", "c.flag=true"),
    )
    a, b, c = (app.ids[i] for i in "abc")
    assert (a.count, b.count, b.kind, a.label, c.other, c.flag) == (
        5,
        10,
        XItem.Kind.Beta,
        "on",
        a,
        True,
    )


def test_an_override_replaces_a_binding(load) -> None:
    app = load(
        """\
    XRoot:
      objects:
        - XItem: {id: a, count: 1}
        - XItem: {id: b, count: !bind a.count * 2}
    """,
        overrides=("b.count=7",),
    )
    app.ids["a"].count = 100
    assert app.ids["b"].count == 7 and app.ids["b"].binding("count") is None


def test_custom_property_can_be_set_by_name_after_its_declaration(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            properties: {setpoint: float}
            setpoint: 3
    """)
    assert app.ids["a"].setpoint == 3.0
