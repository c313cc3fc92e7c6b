"""`!!binary` in app files: base64 text is bytes for any bytes property, and text that is
not base64 (or an explicit core tag its text does not fit, `!!int x`) is an error at its
FILE:LINE:COL, never a traceback."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incore
from incore.app.errors import AppError
from incore.app.yamlfile import compose, load_data, to_data


def test_binary_is_bytes_in_plain_and_block_scalars(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, blob: !!binary QUIK}
        - XItem:
            id: b
            blob: !!binary |
              AAEC
              AwQF
        - XItem: {id: c, blob: !!binary ""}
        - XItem: {id: d, anything: !<tag:yaml.org,2002:binary> /w==}
    """)
    ids = app.ids
    assert ids["a"].blob == b"AB\n"
    assert ids["b"].blob == bytes(range(6))  # line breaks inside the base64 are ignored
    assert ids["c"].blob == b""
    assert ids["d"].anything == b"\xff"  # any property taking bytes takes it


def test_a_property_that_is_not_bytes_names_what_it_got(load) -> None:
    with pytest.raises(AppError) as caught:
        load("XRoot:\n  objects:\n    - XItem: {label: !!binary QUIK}\n")
    assert str(caught.value) == "app.yaml:3:22: XItem.label expects a string, got bytes b'AB\\n'"


@given(st.binary(max_size=64))
@settings(max_examples=50, deadline=None)
def test_any_bytes_survive_base64_in_a_file(blob: bytes) -> None:
    text = base64.encodebytes(blob).decode().replace("\n", "\n  ")  # folded at 76 columns
    node = compose(f"key: !!binary |\n  {text}\n", "f.yaml")
    assert node is not None
    assert to_data(node, tagged=lambda n: n)["key"] == blob
    assert to_data(node)["key"] == blob.hex()  # the JSON spelling: hex, as the schema takes


def test_json_spelling_and_an_override_take_binary(tmp_path, load) -> None:
    path = tmp_path / "app.yaml"
    path.write_text("XRoot:\n  objects:\n    - XItem: {id: a, blob: !!binary QUIK}\n")
    assert load_data(str(path)) == {
        "XRoot": {"objects": [{"XItem": {"id": "a", "blob": "41420a"}}]}
    }
    app = incore.load_app(path, overrides=["a.blob=!!binary /w=="])
    assert app.ids["a"].blob == b"\xff"


@pytest.mark.parametrize(
    "value, message",
    [
        ("!!binary QUI*", "!!binary is not base64: '*' is not a base64 character"),
        ("!!binary QUI", "!!binary is not base64: incorrect padding"),
        ("!!binary QQ==QQ==", "!!binary is not base64: excess data after padding"),
        ('!!binary "Ä"', "!!binary is not base64: 'Ä' is not a base64 character"),
        ("!!binary [1, 2]", "!!binary takes base64 text"),
        ("!!int x", "'x' is not a YAML int (tagged !!int)"),
        ("!!float zz", "'zz' is not a YAML float (tagged !!float)"),
        ("!!bool yes", "'yes' is not a YAML bool (tagged !!bool)"),
    ],
)
def test_text_that_does_not_fit_its_tag_is_an_error_at_the_value(load, value, message) -> None:
    with pytest.raises(AppError) as caught:
        load(f"XRoot:\n  objects:\n    - XItem: {{id: a}}\n    - XItem: {{blob: {value}}}\n")
    assert str(caught.value) == f"app.yaml:4:21: {message}"


def test_explicit_tags_that_fit_are_values(load) -> None:
    app = load("XRoot:\n  objects:\n    - XItem: {id: a, data: !!float 2, count: !!int 0x10}\n")
    assert (app.ids["a"].data, app.ids["a"].count) == (2.0, 16)


def test_bad_base64_in_an_included_file_names_that_file(tmp_path) -> None:
    (tmp_path / "part.yaml").write_text("- XItem:\n    blob: !!binary '%%'\n")
    (tmp_path / "app.yaml").write_text("XRoot:\n  objects: !include part.yaml\n")
    errors = incore.validate(tmp_path / "app.yaml")
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'part.yaml'}:2:11: !!binary is not base64: '%' is not a base64 character"
    ]
