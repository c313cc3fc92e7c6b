"""Load-time errors (app-format.md §7): the broken corpus and the error format."""

from __future__ import annotations

import os

import pytest
from app_corpus import BROKEN, broken_cases

import incore
from incore.app.errors import AppError, ErrorCollector

CASES = broken_cases(os.path.relpath(BROKEN))


def test_corpus_covers_every_required_kind_of_mistake() -> None:
    names = {c.name for c in CASES}
    required = {
        "yaml_syntax.yaml",
        "unknown_type.yaml",
        "unknown_property.yaml",
        "wrong_value_type.yaml",
        "bad_enum.yaml",
        "duplicate_id.yaml",
        "unknown_id_reference.yaml",
        "unknown_id_expression.yaml",
        "expression_syntax.yaml",
        "handler_syntax.yaml",
        "child_not_accepted.yaml",
        "include_missing.yaml",
        "include_cyclic.yaml",
        "two_keys.yaml",
        "unknown_custom_type.yaml",
        "bad_override_property.yaml",
    }
    assert required <= names
    # issue 7: what `run` would fail on or ignore, and load errors at their cause
    rules = {
        "s7server_port_out_of_range.yaml",
        "s7server_max_clients_negative.yaml",
        "s7server_area_negative_size.yaml",
        "s7server_area_twice.yaml",
        "s7client_port_out_of_range.yaml",
        "s7client_rack_out_of_range.yaml",
        "s7client_timeout_negative.yaml",
        "s7variable_bad_width.yaml",
        "s7variable_bad_type.yaml",
        "s7variable_bad_bit.yaml",
        "polling_unknown_property.yaml",
        "polling_cannot_poll.yaml",
        "timer_negative_interval.yaml",
        "handler_cut_by_comma.yaml",
        "yaml_unclosed_brace.yaml",
        "yaml_unclosed_quote.yaml",
        "two_root_keys.yaml",
        "bad_override_range.yaml",
    }
    assert rules <= names
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_broken_file_fails_with_its_message(case) -> None:
    with pytest.raises(AppError) as info:
        incore.load_app(case.path, case.overrides)
    assert str(info.value) == case.expected
    assert "\n" not in str(info.value)
    assert incore.validate(case.path, case.overrides)[0] == info.value


def test_absolute_paths_are_reported_as_given() -> None:
    case = next(c for c in broken_cases(os.path.abspath(BROKEN)) if c.name == "include_cyclic.yaml")
    assert os.path.isabs(case.expected.split(":")[0])
    assert str(incore.validate(case.path)[0]) == case.expected


def test_error_string_is_file_line_col_message() -> None:
    err = AppError("plant.yaml", 14, 9, "S7Client has no property 'hostnme'")
    assert str(err) == "plant.yaml:14:9: S7Client has no property 'hostnme'"
    assert (err.file, err.line, err.col, err.message) == (
        "plant.yaml",
        14,
        9,
        "S7Client has no property 'hostnme'",
    )


def test_validate_lists_every_error_in_reading_order(load) -> None:
    text = """\
    XRoot:
      nmae: x
      objects:
        - XItem: {count: many, id: a}
        - XItm: {}
        - XItem: {data: !bind a.data + zz}
    """
    with pytest.raises(AppError) as info:
        load(text, "multi.yaml")
    report = info.value.report(all_errors=True).splitlines()
    assert report == [
        "multi.yaml:2:3: XRoot has no property 'nmae' (did you mean 'name'?)",
        "multi.yaml:4:22: XItem.count expects an integer, got str 'many'",
        "multi.yaml:5:7: unknown type 'XItm' (did you mean 'XItem'?)",
        "multi.yaml:6:36: unknown name 'zz'",
    ]
    assert info.value.report() == report[0]


def test_validate_of_a_good_file_is_empty(tmp_path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("XRoot:\n  name: fine\n")
    assert incore.validate(path) == []


def test_missing_app_file_is_an_app_error(tmp_path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(AppError, match="file not found") as info:
        incore.load_app(missing)
    assert str(info.value).startswith(f"{missing}:1:1: ")
    assert [str(e) for e in incore.validate(missing)] == [str(info.value)]


def test_collector_sorts_by_file_opened_then_position() -> None:
    errors = ErrorCollector()
    errors.note_file("main.yaml")
    errors.note_file("inc.yaml")
    errors.add(AppError("inc.yaml", 1, 1, "c"))
    errors.add(AppError("main.yaml", 9, 1, "b"))
    errors.add(AppError("main.yaml", 2, 5, "a"))
    errors.add(AppError("main.yaml", 2, 5, "a"))
    assert [e.message for e in errors.sorted()] == ["a", "b", "c"]
    with pytest.raises(AppError) as info:
        errors.raise_first()
    assert info.value.message == "a" and len(info.value.errors) == 3


def test_a_type_refusing_a_value_is_reported_at_the_value(load) -> None:
    with pytest.raises(AppError) as info:
        load(
            """\
        Application:
          objects:
            - DataObject:
                dataType: Boolean
                data: maybe
        """,
            "refuse.yaml",
        )
    assert str(info.value).startswith("refuse.yaml:5:15: ")
