"""Handlers (§3) and expression scope (§4)."""

from __future__ import annotations

import logging

import pytest


def test_handler_gets_signal_arguments_by_name(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            onFired: print(n, text, label)
            label: mine
    """)
    app.ids["a"].fired.emit(3, "hello")
    assert capsys.readouterr().out == "3 hello mine\n"


def test_on_property_changed_works_for_every_property(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            onDataChanged: print("data", value)
            onKindChanged: print("kind", kind.name)
            onObjectIdChanged: print("oid", objectId)
    """)
    a = app.ids["a"]
    a.data = 2
    a.kind = "Beta"
    a.objectId = "x"
    assert capsys.readouterr().out.splitlines() == ["data 2.0", "kind Beta", "oid x"]


def test_on_completed_runs_children_before_parents(load, capsys) -> None:
    app = load("""\
    XRoot:
      onCompleted: print("root")
      objects:
        - XItem:
            onCompleted: print("a")
            objects:
              - XItem: {onCompleted: print("a1")}
              - XItem: {onCompleted: print("a2")}
        - XItem: {onCompleted: print("b")}
    """)
    app.root.complete()
    assert capsys.readouterr().out.split() == ["a1", "a2", "a", "b", "root"]


def test_scope_own_names_self_parent_ids_args_helpers(load, capsys, caplog) -> None:
    caplog.set_level(logging.INFO, logger="incore.console")
    app = load("""\
    XRoot:
      name: root
      objects:
        - XItem:
            id: peer
            count: 7
        - XItem:
            id: me
            label: mine
            onFired: |
              print(label, self.label, parent.name, peer.count, n, text)
              print(round(math.sqrt(16)), time.time() > 0, len(text))
              console.log("logged", n)
              console.warn("careful")
    """)
    app.ids["me"].fired.emit(2, "ab")
    assert capsys.readouterr().out.splitlines() == ["mine mine root 7 2 ab", "4 True 2"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "logged 2"),
        ("WARNING", "careful"),
    ]


def test_bare_assignment_writes_own_property_and_locals_stay_local(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: peer
        - XItem:
            id: me
            onFired: |
              total = n * 2
              count = total + 1
              label = text
              self.flag = True
              peer.count = count
              squares = [count for count in range(3)]
              anything = squares
    """)
    me, peer = app.ids["me"], app.ids["peer"]
    me.fired.emit(4, "x")
    assert (me.count, me.label, me.flag, peer.count) == (9, "x", True, 9)
    assert me.anything == [0, 1, 2]  # the comprehension's count is its own


def test_own_property_wins_over_an_id_of_the_same_name(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: label, count: 1}
        - XItem: {id: b, label: own, items: !bind "[label]"}
    """)
    assert app.ids["b"].items == ["own"]


def test_handler_error_is_reported_with_file_line(load, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="incore")
    app = load(
        """\
    XRoot:
      objects:
        - XItem:
            id: a
            onFired: |
              x = 1
              print(x / 0)
    """,
        "handler.yaml",
    )
    app.ids["a"].fired.emit(1, "")
    app.ids["a"].count = 3  # the app goes on
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("handler.yaml:6: ") and "ZeroDivisionError" in messages[0]


def test_handler_code_has_the_app_file_line_numbers(load) -> None:
    app = load(
        """\
    XRoot:
      objects:
        - XItem:
            id: a
            onFired: |
              x = 1
              raise ValueError(x)
    """,
        "tb.yaml",
    )
    slot = app.ids["a"]._subscribers("fired")[0]
    fn = slot.target
    with pytest.raises(ValueError) as info:
        fn(1, "")
    frame = info.traceback[-1]
    assert frame.path == "tb.yaml" or str(frame.path).endswith("tb.yaml")
    assert frame.lineno + 1 == 7  # pytest counts from 0


@pytest.mark.parametrize("conn_type", ["Connections", "XConnections"])
def test_connections_handle_the_targets_signals(load, capsys, conn_type) -> None:
    app = load(f"""\
    Application:
      objects:
        - XItem:
            id: source
        - {conn_type}:
            id: conn
            target: source
            onFired: print("relayed", n, text)
            onCountChanged: print("count", value)
    """)
    source, conn = app.ids["source"], app.ids["conn"]
    source.fired.emit(1, "a")
    source.count = 5
    conn.enabled = False
    source.fired.emit(2, "b")
    assert capsys.readouterr().out.splitlines() == ["relayed 1 a", "count 5"]


def test_connections_default_target_is_the_parent(load, capsys) -> None:
    app = load("""\
    Application:
      objects:
        - XItem:
            id: source
            objects:
              - Connections:
                  onFired: print("from parent", n)
    """)
    app.ids["source"].fired.emit(9, "")
    assert capsys.readouterr().out == "from parent 9\n"


def test_methods_and_signals_by_bare_name(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            onCountChanged: poke(value)
            onFired: print("fired", n)
    """)
    app.ids["a"].count = 3
    assert capsys.readouterr().out == "fired 3\n"


def test_signal_arguments_shadow_own_properties_of_the_same_name():
    import incore

    app = incore.load_string(
        "DataObject:\n"
        "  id: d\n"
        "  signals: {ping: [data]}\n"
        "  onPing: self.description = f'{data}/{self.data}'\n"
    )
    app.root.ping(5)
    assert app.root.description == "5/None"
