"""The JSON Schema (§10) and the reference docs, both generated from the registry."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from incore.app import docs
from incore.app.schema import generate_schema, schema_text
from incore.app.yamlfile import load_data

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "incore-app.schema.json"
GOOD = Path(__file__).parent / "good"


def app_files() -> list[Path]:
    found = []
    for folder in (REPO / "examples", GOOD):
        found += sorted(
            p
            for p in folder.rglob("*")
            if p.suffix in (".yaml", ".yml", ".json") and "parts" not in p.parts
        )
    return found


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = generate_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_checked_in_schema_is_current() -> None:
    assert SCHEMA.read_text("utf-8") == schema_text(), (
        "schemas/incore-app.schema.json is stale: run `make schema`"
    )


def test_every_example_validates_against_the_schema(validator) -> None:
    files = app_files()
    assert any(p.parent == GOOD for p in files)
    for path in files:
        errors = [e.message for e in validator.iter_errors(load_data(str(path)))]
        assert errors == [], f"{path}: {errors}"


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ({"Timr": {}}, "Timr"),
        ({"Timer": {"intervall": 5}}, "intervall"),
        ({"Timer": {"interval": "fast"}}, "fast"),
        ({"DataObject": {"dataType": "Flot"}}, "Flot"),
        ({"Application": {"objects": [{"DataObject": {"objects": [{"Timer": {}}]}}]}}, "Timer"),
        ({"Timer": {}, "DataObject": {}}, "Timer"),
        ({"Timer": {"properties": {"x": "string"}}}, "string"),
        ({"Timer": {"interval": -5}}, "-5"),
        ({"S7Server": {"localPort": 70000}}, "70000"),
        ({"S7Server": {"maxClients": -5}}, "-5"),
        ({"S7ServerArea": {"size": -8}}, "-8"),
        ({"S7Client": {"port": 99999}}, "99999"),
        ({"S7Client": {"rack": 12}}, "12"),
        ({"S7Client": {"timeout": -1}}, "-1"),
        ({"S7Variable": {"bit": 9}}, "9"),
    ],
)
def test_schema_rejects_what_the_loader_rejects(validator, doc, fragment) -> None:
    errors = list(validator.iter_errors(doc))
    assert errors and fragment in str([e.instance for e in errors] + [e.message for e in errors])


def test_schema_accepts_bindings_handlers_and_declared_custom_properties(validator) -> None:
    doc = {
        "Application": {
            "objects": [
                {
                    "DataObject": {
                        "id": "a",
                        "data": {"$bind": "b.data * 2"},
                        "dataType": "Float",
                        "onDataChanged": "print(value)",
                        "onWhatever": "pass",
                        "properties": {"setpoint": {"type": "float", "value": 1}},
                        "setpoint": 3,
                        "signals": {"alarm": ["level"]},
                        "functions": {"reset(x)": "setpoint = x"},
                        "objects": [{"Polling": {"on": "data"}}],
                    }
                },
                {"Timer": {"interval": 5, "onTriggered": "pass"}},
                {"$include": "more.yaml"},
            ]
        }
    }
    assert [e.message for e in validator.iter_errors(doc)] == []
    undeclared = {"DataObject": {"setpoint": 3}}
    assert list(validator.iter_errors(undeclared))


def test_schema_lists_types_properties_enums_and_handlers() -> None:
    defs = generate_schema()["$defs"]
    timer = defs["type.Timer"]["properties"]
    assert timer["interval"]["anyOf"][0] == {"type": "integer", "minimum": 0}
    assert timer["interval"]["default"] == 1000
    assert "onTriggered" in timer and "onIntervalChanged" in timer
    data_type = defs["type.DataObject"]["properties"]["dataType"]["anyOf"][0]["enum"]
    assert "Float" in data_type and "DataObject.Float" in data_type


def test_schema_takes_the_declared_ranges_and_says_the_other_rules(validator) -> None:
    """Ranges are schema keywords; checks without a JSON Schema form are in descriptions."""
    defs = generate_schema()["$defs"]
    port = defs["type.S7Client"]["properties"]["port"]
    assert port["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 65535}
    assert port["description"].endswith("Allowed: 1..65535.")
    assert "poll<Name>()" in defs["type.Polling"]["properties"]["on"]["description"]
    assert "S7 address" in defs["type.S7Variable"]["properties"]["name"]["description"]
    ok = {
        "Application": {
            "objects": [
                {
                    "S7Server": {
                        "localPort": 0,
                        "objects": [{"S7ServerArea": {"index": 1, "size": 4}}],
                    }
                },
                {"S7Client": {"port": 65535, "rack": 7, "slot": 31, "timeout": 1}},
                {"Timer": {"interval": 0}},
            ]
        }
    }
    assert [e.message for e in validator.iter_errors(ok)] == []


def test_reference_docs_are_in_sync_with_the_registry() -> None:
    on_disk = docs.generated_files(str(REPO / "docs" / "reference"))
    assert on_disk == docs.render_pages(), "docs/reference is out of date: run `make docs`"


def test_reference_page_has_the_property_table() -> None:
    page = docs.render_pages()["Timer.md"]
    assert "| `interval` | int | `1000` | `intervalChanged` | yes |" in page
    assert "`onTriggered`" in page and "[Timer](Timer.md)" in docs.render_pages()["index.md"]
    assert "restarts a running timer). Allowed: 0 or more. |" in page
    assert "Load-time check: No two S7ServerArea children" in docs.render_pages()["S7Server.md"]


def test_write_docs_removes_only_stale_generated_pages(tmp_path) -> None:
    (tmp_path / "Gone.md").write_text(docs.MARKER + "\n# Gone\n")
    (tmp_path / "guide.md").write_text("# hand-written\n")
    names = docs.write_docs(str(tmp_path))
    assert not (tmp_path / "Gone.md").exists() and (tmp_path / "guide.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, "guide.md"])
