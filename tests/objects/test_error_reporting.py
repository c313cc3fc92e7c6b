"""The error convention: error keeps the last error, errorOccurred fires on every one."""

from __future__ import annotations

import enum
import threading

from foundation_helpers import WAIT, loop  # noqa: F401  (fixture)

from incore.core import Object
from incore.objects.errors import ErrorReporting, error_property


class Device(ErrorReporting, register=False):
    class Error(enum.IntEnum):
        NoError = 0
        TimeoutError = 1
        RefusedError = 2

    error = error_property(Error)


def test_error_changes_only_for_a_new_error_but_every_occurrence_is_signalled():
    d = Device()
    changes, occurrences = [], []
    d.errorChanged.connect(lambda: changes.append((d.error, d.errorString)))
    d.errorOccurred.connect(lambda: occurrences.append(d.errorString))
    d._report_error(Device.TimeoutError, "no answer after 1 s")
    d._report_error(Device.TimeoutError, "no answer after 2 s")
    d._report_error("RefusedError", "connection refused")
    # errorChanged sees the matching errorString: both are set in one wave.
    assert changes == [
        (Device.TimeoutError, "no answer after 1 s"),
        (Device.RefusedError, "connection refused"),
    ]
    assert occurrences == ["no answer after 1 s", "no answer after 2 s", "connection refused"]
    assert d.error is Device.RefusedError and Device.RefusedError == 2


def test_clear_error_returns_to_no_error_silently():
    d = Device()
    occurrences = []
    d.errorOccurred.connect(lambda: occurrences.append(1))
    d._report_error(1, "x")
    d._clear_error()
    assert d.error == Device.NoError and d.errorString == "" and occurrences == [1]


def test_error_and_error_string_are_read_only_and_not_saved():
    d = Device()
    for name in ("error", "errorString"):
        try:
            setattr(d, name, 1 if name == "error" else "x")
        except AttributeError as exc:
            assert "read-only" in str(exc)
        else:
            raise AssertionError(f"{name} was writable")
    assert "error" not in d.serializeProperties()


def test_a_report_from_another_thread_is_handled_on_the_loop(loop):
    d = Device()
    threads = []
    d.errorOccurred.connect(lambda: threads.append(threading.get_ident()))
    worker = threading.Thread(target=d._report_error, args=(Device.TimeoutError, "late"))

    def reported() -> bool:  # runs while the loop owns the objects
        if worker.ident is None:
            worker.start()
        return bool(threads)

    assert loop.run_until(reported, WAIT)
    worker.join(WAIT)
    assert threads == [threading.get_ident()] and d.errorString == "late"


def test_the_mixin_is_not_a_type_of_its_own():
    from incore.core import registry

    assert registry.get("ErrorReporting") is None
    assert issubclass(Device, Object)
