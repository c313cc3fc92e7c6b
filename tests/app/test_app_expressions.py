"""The expression compiler: scope rewriting, unknown names, blocks, shapes."""

from __future__ import annotations

import pytest
from app_types import XItem

from incore.app.expressions import Compiler, ExpressionError, new_globals
from incore.app.shapes import shape


@pytest.fixture
def compiler() -> Compiler:
    return Compiler(new_globals({"tank": XItem(count=4)}), "expr.yaml")


def evaluate(compiler: Compiler, source: str, obj: XItem | None = None):
    fn, names = compiler.binding(XItem, source)
    assert names == ()
    return fn(obj or XItem())


@pytest.mark.parametrize(
    "source, value",
    [
        ("count + 1", 1),
        ("tank.count * 2", 8),
        ("max(count, tank.count)", 4),
        ("[x * 2 for x in range(3)]", [0, 2, 4]),
        ("(lambda data: data + 1)(1)", 2),  # a parameter shadows the property
        ("round(math.pi, 2)", 3.14),
        ("kind.name", "Alpha"),
        ("parent is None", True),
        ("x = count + 2\nreturn x * 10", 20),  # a block returns its value
        ("x = 3\nx + 1", 4),  # ... or gives its last expression
    ],
)
def test_bindings_see_the_documented_scope(compiler, source, value) -> None:
    assert evaluate(compiler, source) == value


@pytest.mark.parametrize(
    "source, message, line, col",
    [
        ("tnak.count", "unknown name 'tnak' (did you mean 'tank'?)", 1, 0),
        ("count +", "syntax error: invalid syntax", 1, 7),
        ("x = 1\nreturn y", "unknown name 'y'", 2, 7),
        ("(count := 3)", "cannot assign to property 'count' in a binding", 1, 1),
        ("'é' + nope", "unknown name 'nope'", 1, 6),  # columns in characters, not bytes
    ],
)
def test_binding_errors_have_positions(compiler, source, message, line, col) -> None:
    with pytest.raises(ExpressionError) as info:
        compiler.binding(XItem, source)
    assert (info.value.message, info.value.line, info.value.col) == (message, line, col)


def test_handler_assignments_and_locals(compiler) -> None:
    fn = compiler.handler(
        XItem, "label = text * n\nimport json\nitems = [json.dumps(n)]", ("n", "text")
    )
    obj = XItem()
    fn(obj, 2, "ab")
    assert (obj.label, obj.items) == ("abab", ["2"])
    helper = compiler.handler(XItem, "def twice(v):\n    return v * 2\ncount = twice(n)", ("n",))
    helper(obj, 21)
    assert obj.count == 42
    with pytest.raises(ExpressionError, match="XItem.stamp is read-only"):
        compiler.handler(XItem, "stamp = 1")
    with pytest.raises(ExpressionError, match="cannot assign to method 'poke'"):
        compiler.handler(XItem, "poke = 1")
    with pytest.raises(ExpressionError, match="cannot assign to self"):
        compiler.handler(XItem, "self = 1")


def test_compiled_once_per_type_and_text(compiler) -> None:
    first = compiler.binding(XItem, "count * 3")[0]
    assert compiler.binding(XItem, "count * 3")[0] is first


@pytest.mark.parametrize(
    "source, shaped",
    [
        ("a.data * 2", ("_incore_id0_.data * 2", ("a",))),
        (
            "a.data + b.data + a.count",
            ("_incore_id0_.data + _incore_id1_.data + _incore_id0_.count", ("a", "b")),
        ),
        ("q.a + 'a' + f'{a}'", ("q.a + 'a' + f'{a}'", ())),  # attributes and strings kept
        ("count + a . data", ("count + _incore_id0_ . data", ("a",))),
        ("data", ("data", ())),  # own names are never ids
        ("f(a=1)", None),  # keyword named like an id
        ("[a for a in b]", None),
        ("lambda: a", None),
        ("'\\n' + a.x", None),
    ],
)
def test_shapes(source, shaped) -> None:
    assert shape(source, {"data", "count"}, {"a", "b", "x"}) == shaped
