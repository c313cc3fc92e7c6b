"""Serializer: save/restore, atomic replacement, corrupt files, modes, shutdown."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap

import pytest
from foundation_helpers import WAIT, loop  # noqa: F401  (fixture)

from incore.objects.foundation import DataObject, ObjectArray, Serializer, atomic
from incore.objects.foundation import serializer as serializer_module


def state_tree() -> ObjectArray:
    return ObjectArray(
        objectId="plant",
        objects=[
            DataObject(objectId="setpoint", data=21.5, dataType="Double"),
            DataObject(objectId="mode", data="auto"),
        ],
    )


@pytest.fixture
def writes(monkeypatch):
    """Count the files the Serializer writes (still writing them)."""
    done: list[str] = []

    def counting(path: str, text: str) -> None:
        atomic.write_atomically(path, text)
        done.append(text)

    monkeypatch.setattr(serializer_module, "write_atomically", counting)
    return done


def test_update_writes_the_source_state_indented_or_compact(tmp_path):
    tree = state_tree()
    path = tmp_path / "state.json"
    s = Serializer(source=tree, file=str(path))
    assert s.update() is True
    text = path.read_text()
    assert json.loads(text) == tree.serializeProperties()
    assert text.startswith('{\n    "objectId": "plant"')
    s.format = Serializer.CompactJson
    s.update()
    assert path.read_text() == json.dumps(tree.serializeProperties(), separators=(",", ":")) + "\n"
    assert os.listdir(tmp_path) == ["state.json"]  # no temporary file left behind


def test_state_is_restored_on_completion(tmp_path):
    path = tmp_path / "sub" / "state.json"
    saved = state_tree()
    saved.children()[0].data = 23.0
    saved.children()[1].data = "manual"
    Serializer(source=saved, file=str(path)).update()  # creates the directory too
    fresh = state_tree()
    s = Serializer(source=fresh, file=str(path))
    s.complete()
    assert [c.data for c in fresh.children()] == [23.0, "manual"]
    assert s.error == Serializer.NoError


def test_a_missing_file_is_fine(tmp_path):
    tree = state_tree()
    s = Serializer(source=tree, file=str(tmp_path / "none.json"))
    s.complete()
    assert s.error == Serializer.NoError and tree.children()[0].data == 21.5


@pytest.mark.parametrize(
    "content",
    [
        b'{"objectId": "plant", "objects": [{"da',
        b"[1, 2, 3]",
        b"\x00\x01binary",
        b"\xff\xfe\x80garbage",
        b"",
    ],
)
def test_a_corrupt_file_reports_parse_error_and_keeps_the_state(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    tree = state_tree()
    s = Serializer(source=tree, file=str(path))
    seen = []
    s.errorOccurred.connect(lambda: seen.append(s.errorString))
    s.complete()
    assert s.error == Serializer.ParseError
    assert seen and str(path) in seen[0] and "kept the current state" in seen[0]
    assert tree.serializeProperties() == state_tree().serializeProperties()


def test_values_that_do_not_fit_change_nothing_and_keep_bindings(tmp_path):
    path = tmp_path / "state.json"
    tree = state_tree()
    setpoint, mode = tree.children()
    mode.bind("data", lambda: "auto" if setpoint.data < 25 else "alarm")
    # The first child restores fine; the second gets a Float type and data that can't fit.
    path.write_text(
        json.dumps({"objects": [{"data": 30.0}, {"dataType": "Float", "data": "not a float"}]})
    )
    s = Serializer(source=tree, file=str(path))
    s.complete()
    assert s.error == Serializer.ParseError and "does not fit" in s.errorString
    assert setpoint.data == 21.5 and mode.data == "auto"
    assert mode.binding("data") is not None and mode.dataType == DataObject.Invalid
    setpoint.data = 26.0
    assert mode.data == "alarm"  # the binding still works


def test_an_unreadable_file_reports_read_error(tmp_path):
    tree = state_tree()
    s = Serializer(source=tree, file=str(tmp_path))  # a directory can not be read as a file
    assert s.restore() is False
    assert s.error == Serializer.ReadError and str(tmp_path) in s.errorString


def test_missing_source_or_file_are_errors(tmp_path):
    s = Serializer(file=str(tmp_path / "x.json"))
    assert s.update() is False and s.error == Serializer.NoSourceError
    s = Serializer(source=state_tree())
    assert s.update() is False and s.error == Serializer.NoFileError


def test_a_failure_between_write_and_replace_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    tree = state_tree()
    s = Serializer(source=tree, file=str(path))
    s.update()
    before = path.read_text()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", crash)
    tree.children()[0].data = 99.0
    assert s.update() is False
    assert s.error == Serializer.WriteError and "No space left on device" in s.errorString
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["state.json"]
    monkeypatch.undo()
    assert s.update() is True and s.error == Serializer.NoError  # error clears on success
    assert json.loads(path.read_text())["objects"][0]["data"] == 99.0


CRASHING_WRITER = textwrap.dedent("""
    import json, os, sys
    from incore.objects.foundation import atomic

    path, stage = sys.argv[1], sys.argv[2]
    atomic.write_atomically(path, json.dumps({"data": 1}))

    def stop_here(*_args):
        print("at", stage, flush=True)
        sys.stdin.readline()  # wait here until killed

    class HalfWritten:
        # The temporary file gets half of the text, then the process stops.
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.f.__exit__(*exc)
        def fileno(self):
            return self.f.fileno()
        def flush(self):
            self.f.flush()
        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            stop_here()

    if stage == "replace":
        os.replace = stop_here
    else:
        real_fdopen = os.fdopen
        os.fdopen = lambda *a, **kw: HalfWritten(real_fdopen(*a, **kw))
    atomic.write_atomically(path, json.dumps({"data": 2, "description": "x" * 100_000}))
""")


@pytest.mark.parametrize("stage", ["data", "replace"])
def test_a_writer_killed_mid_write_leaves_the_old_file_whole(tmp_path, stage):
    """SIGKILL while the new text is half written, or written and synced but not renamed."""
    path = tmp_path / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(path), stage],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().split() == ["at", stage]
    finally:
        proc.kill()  # no cleanup code runs
        proc.wait(WAIT)
        proc.stdin.close()
        proc.stdout.close()
    assert json.loads(path.read_text()) == {"data": 1}
    leftovers = [p for p in tmp_path.iterdir() if p.name != "state.json"]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".state.json.")
    # The next start of a Serializer on that file restores the old state and tidies up.
    counter = DataObject()
    s = Serializer(source=counter, file=str(path))
    s.complete()
    assert counter.data == 1 and counter.description == "" and s.error == Serializer.NoError
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_serialize_on_change_writes_once_per_burst(tmp_path, loop, writes):
    tree = state_tree()
    path = tmp_path / "state.json"
    s = Serializer(source=tree, file=str(path), mode="SerializeOnChange")
    s.complete()
    assert writes == []  # restoring and starting write nothing
    setpoint, mode = tree.children()
    setpoint.data = 22.0
    mode.data = "manual"
    setpoint.data = 22.5
    assert loop.run_until(lambda: writes, WAIT)
    loop.process_events()
    assert len(writes) == 1
    assert json.loads(path.read_text())["objects"][0]["data"] == 22.5
    mode.data = "auto"
    assert loop.run_until(lambda: len(writes) == 2, WAIT)


def test_serialize_on_change_watches_children_added_later(tmp_path, loop, writes):
    tree = state_tree()
    s = Serializer(source=tree, file=str(tmp_path / "s.json"), mode="SerializeOnChange")
    s.complete()
    late = DataObject(objectId="late")
    tree.appendChild(late)
    assert loop.run_until(lambda: len(writes) == 1, WAIT)
    late.data = 7
    assert loop.run_until(lambda: len(writes) == 2, WAIT)
    assert json.loads(writes[-1])["objects"][2]["data"] == 7


def test_serialize_periodically(tmp_path, loop, writes):
    s = Serializer(
        source=state_tree(),
        file=str(tmp_path / "s.json"),
        mode="SerializePeriodically",
        interval=10,
    )
    s.complete()
    assert loop.run_until(lambda: len(writes) >= 3, WAIT)
    s.mode = Serializer.SerializeManually
    count = len(writes)
    loop.process_events(0.05)
    assert len(writes) == count


def test_shutdown_saves_pending_changes(tmp_path, loop, writes):
    tree = state_tree()
    path = tmp_path / "s.json"
    s = Serializer(source=tree, file=str(path), mode="SerializeOnChange")
    s.complete()
    tree.children()[1].data = "last words"
    s.shutdown()
    assert len(writes) == 1 and json.loads(path.read_text())["objects"][1]["data"] == "last words"
    tree.children()[1].data = "after shutdown"
    loop.process_events(0.02)
    assert len(writes) == 1


def test_dates_and_times_round_trip(tmp_path):
    path = tmp_path / "s.json"
    day = DataObject(objectId="day", dataType="Date", data="2024-02-29")
    Serializer(source=day, file=str(path)).update()
    assert json.loads(path.read_text())["data"] == "2024-02-29"
    again = DataObject(objectId="day", dataType="Date")
    Serializer(source=again, file=str(path)).complete()
    assert again.data == dt.date(2024, 2, 29)
