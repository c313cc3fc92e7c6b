"""incore.loads: a document with a bad value gives no tree and says FILE:LINE:COL."""

from __future__ import annotations

import pytest

import incore

DOCUMENT = """{"ObjectArray": {"objectId": "plant", "objects": [
  {"DataObject": {"objectId": "mode", "data": "auto"}},
  {"ObjectArray": {"objectId": "tank", "objects": [
    {"Measurement": {"objectId": "level", "dataType": "Float", "data": "high"}},
    {"Measurement": {"objectId": "pressure", "unit": 5}}
  ]}}
]}}"""


def position(text: str, fragment: str) -> str:
    """LINE:COL (1-based) of the value after `fragment`."""
    offset = text.index(fragment) + len(fragment)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - text.rfind(chr(10), 0, offset)}"


def test_a_bad_value_is_reported_at_its_place_in_the_named_file(tmp_path):
    path = tmp_path / "plant.json"
    path.write_text(DOCUMENT)
    with pytest.raises(incore.AppError) as failure:
        incore.loads(path.read_text(), str(path))
    data_at = position(DOCUMENT, '"level", "dataType": "Float", "data": ')
    unit_at = position(DOCUMENT, '"unit": ')
    assert str(failure.value) == (
        f"{path}:{data_at}: DataObject.data expects a number (dataType Float), got str 'high'"
    )
    assert [str(e) for e in failure.value.errors] == [
        str(failure.value),
        f"{path}:{unit_at}: Measurement.unit expects a string, got int 5",
    ]


def test_text_without_a_file_is_named_json():
    unit_at = position(DOCUMENT, '"unit": ')
    with pytest.raises(incore.AppError, match=rf"^<json>:{unit_at}: Measurement\.unit "):
        incore.loads(DOCUMENT.replace('"data": "high"', '"data": 2'))
