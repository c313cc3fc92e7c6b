"""incore.run(): completion order, quit, signals, timeout, shutdown and threads."""

from __future__ import annotations

import logging
import signal
import threading
import time

import pytest

import incore
from incore.app import runner
from incore.core import EventLoop, Object, get_loop, set_loop
from incore.objects.foundation import Application, DataObject, ObjectArray, Timer

WAIT = 5.0


@pytest.fixture(autouse=True)
def fresh_loop():
    set_loop(EventLoop())
    yield
    set_loop(None)


class Recorder(Object, register=False):
    """Records its completion and shutdown in a shared journal."""

    __slots__ = ("journal",)

    def __init__(self, journal: list, **kw):
        self.journal = journal
        super().__init__(**kw)

    def _on_completed(self):
        self.journal.append(("completed", self.objectId))

    def _on_shutdown(self):
        self.journal.append(("shutdown", self.objectId))


def quit_after(app: Application, ms: int) -> Timer:
    t = Timer(interval=ms, repeat=False)
    t.triggered.connect(app.quit)
    app.appendChild(t)
    return t


def test_children_complete_before_parents_and_shut_down_first():
    journal: list = []
    inner = Recorder(journal, objectId="inner")
    outer = Recorder(journal, objectId="outer", objects=[inner])
    app = Application(objects=[outer, Recorder(journal, objectId="sibling")])
    quit_after(app, 10)
    assert incore.run(app, install_signal_handlers=False) == 0
    assert journal == [
        ("completed", "inner"),
        ("completed", "outer"),
        ("completed", "sibling"),
        ("shutdown", "sibling"),
        ("shutdown", "inner"),
        ("shutdown", "outer"),
    ]


def test_quit_before_the_loop_runs_still_ends_the_run():
    app = Application()
    app.completed.connect(app.quit)  # onCompleted: quit
    started = time.monotonic()
    assert incore.run(app, install_signal_handlers=False, timeout=WAIT) == 0
    assert time.monotonic() - started < 1.0


def test_timeout_ends_the_run_and_timers_stop():
    ticks = []
    t = Timer(interval=5)
    t.triggered.connect(lambda: ticks.append(1))
    assert incore.run(ObjectArray(objects=[t]), install_signal_handlers=False, timeout=0.1) == 0
    count = len(ticks)
    assert count > 0
    get_loop().run(timeout=0.05)
    assert len(ticks) == count


def test_sigint_and_sigterm_stop_the_loop_and_handlers_are_restored(caplog):
    caplog.set_level(logging.INFO, logger="incore")
    for signum in (signal.SIGINT, signal.SIGTERM):
        before = signal.getsignal(signum)
        journal: list = []
        app = Application(name="demo", objects=[Recorder(journal, objectId="r")])
        get_loop().post(signal.raise_signal, signum)
        assert incore.run(app, timeout=WAIT) == 0
        assert journal == [("completed", "r"), ("shutdown", "r")]
        assert signal.getsignal(signum) is before
        assert f"stopping demo ({signal.Signals(signum).name})" in caplog.text


def test_a_signal_during_completion_stops_at_once():
    class Interrupting(Object, register=False):
        def _on_completed(self):
            signal.raise_signal(signal.SIGTERM)

    started = time.monotonic()
    assert incore.run(Application(objects=[Interrupting()]), timeout=WAIT) == 0
    assert time.monotonic() - started < 1.0


def test_run_logs_started_and_stopped(caplog):
    caplog.set_level(logging.INFO, logger="incore")
    app = Application(name="Tank")
    quit_after(app, 1)
    incore.run(app, install_signal_handlers=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "incore"]
    assert messages == ["started Tank", "stopping Tank", "stopped Tank"]


class Worker(Object, register=False):
    """Starts a thread on completion that writes a property from outside the loop."""

    __slots__ = ("thread", "stop_event")

    def __init__(self, **kw):
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._work, name="worker")
        super().__init__(**kw)

    def _work(self):
        n = 0
        while not self.stop_event.wait(0.001):
            n += 1
            self.objectId = str(n)  # a foreign thread: the write is marshalled to the loop

    def _on_completed(self):
        self.thread.start()

    def _on_shutdown(self):
        self.stop_event.set()  # and no join: the runner's bounded join catches it


def test_threads_of_objects_are_joined_and_their_writes_marshalled():
    worker = Worker()
    app = Application(objects=[worker])
    seen = []
    worker.objectIdChanged.connect(lambda: seen.append(threading.get_ident()))
    worker.objectIdChanged.connect(lambda v: v == "20" and app.quit())
    assert incore.run(app, install_signal_handlers=False, timeout=WAIT) == 0
    assert not worker.thread.is_alive()  # the runner joined what the object did not
    assert seen and set(seen) == {threading.get_ident()}


def test_a_thread_that_does_not_end_is_named_after_the_bound(monkeypatch, caplog):
    monkeypatch.setattr(runner, "THREAD_JOIN_BOUND", 0.05)
    release = threading.Event()

    class Stuck(Object, register=False):
        def _on_completed(self):
            threading.Thread(target=release.wait, name="stuck-peer", daemon=True).start()

    started = time.monotonic()
    incore.run(Application(objects=[Stuck()]), install_signal_handlers=False, timeout=0.01)
    release.set()
    assert time.monotonic() - started < 2.0
    assert "threads still running after shutdown: stuck-peer" in caplog.text


def test_run_takes_an_app_a_path_or_an_object(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text("Application:\n  onCompleted: quit()\n")
    assert incore.run(str(path), install_signal_handlers=False, timeout=WAIT) == 0
    assert incore.run(incore.load_app(path), install_signal_handlers=False, timeout=WAIT) == 0
    with pytest.raises(TypeError, match="expects an App, an app file or an Object"):
        incore.run(42)


def test_an_error_while_completing_still_shuts_down():
    journal: list = []

    class Broken(Object, register=False):
        def _on_completed(self):
            raise RuntimeError("cannot start")

    app = Application(objects=[Recorder(journal, objectId="ok"), Broken()])
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    with pytest.raises(RuntimeError, match="cannot start"):
        incore.run(app, timeout=WAIT)
    assert ("shutdown", "ok") in journal
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_signal_during_shutdown_aborts_it():
    class SlowToStop(Object, register=False):
        def _on_shutdown(self):
            signal.raise_signal(signal.SIGINT)  # the operator presses Ctrl-C again

    before = signal.getsignal(signal.SIGINT)
    get_loop().post(signal.raise_signal, signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        incore.run(Application(objects=[SlowToStop()]), timeout=WAIT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_signal_after_quit_during_shutdown_is_not_an_abort():
    class Late(Object, register=False):
        def _on_shutdown(self):
            signal.raise_signal(signal.SIGTERM)  # arrives while quitting: nothing to abort

    app = Application(objects=[Late()])
    app.completed.connect(app.quit)
    assert incore.run(app, timeout=WAIT) == 0


def test_a_slow_shutdown_logs_where_each_thread_is(monkeypatch, caplog):
    """What a killed process waited for is in its log: the first signal's shutdown logs
    every thread's stack once it takes longer than SHUTDOWN_REPORT_AFTER."""
    monkeypatch.setattr(runner, "SHUTDOWN_REPORT_AFTER", 0.05)
    reported = threading.Event()

    class Slow(Object, register=False):
        def _on_shutdown(self):
            waits_for_the_peer_to_say_goodbye()

    def waits_for_the_peer_to_say_goodbye():
        reported.wait(WAIT)  # ends as soon as the report is out

    caplog.set_level("WARNING", logger="incore")
    caplog.handler.emit = _also(caplog.handler.emit, reported.set)
    incore.run(Application(objects=[Slow()]), install_signal_handlers=False, timeout=0.01)
    assert reported.is_set()
    assert "shutting Application down has taken 0.05 s so far" in caplog.text
    assert "in waits_for_the_peer_to_say_goodbye" in caplog.text


def test_a_quick_shutdown_reports_nothing(caplog):
    incore.run(Application(objects=[DataObject()]), install_signal_handlers=False, timeout=0.01)
    assert "so far; where each thread is" not in caplog.text
    assert "incore-shutdown-watch" not in {t.name for t in threading.enumerate()}


def _also(emit, then):
    def both(record):
        emit(record)
        then()

    return both
