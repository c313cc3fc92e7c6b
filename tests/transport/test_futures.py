"""CompletedFuture: a finished Future that the standard library's helpers accept."""

from __future__ import annotations

import concurrent.futures as cf
import logging

import pytest

from incore.transport.futures import CompletedFuture


def test_result_and_state() -> None:
    f = CompletedFuture(42)
    assert f.done() and not f.running() and not f.cancelled()
    assert f.result() == 42 and f.result(0) == 42
    assert f.exception() is None
    assert not f.cancel() and f.done()


def test_exception_is_raised_by_result() -> None:
    error = ValueError("bad")
    f = CompletedFuture(exception=error)
    assert f.exception() is error
    with pytest.raises(ValueError, match="bad"):
        f.result()


def test_it_never_changes() -> None:
    f = CompletedFuture("kept")
    with pytest.raises(cf.InvalidStateError):
        f.set_result("other")
    with pytest.raises(cf.InvalidStateError):
        f.set_exception(RuntimeError())
    with pytest.raises(RuntimeError):
        f.set_running_or_notify_cancel()
    assert f.result() == "kept"


def test_done_callbacks_run_at_once_and_their_errors_are_logged(caplog) -> None:
    f = CompletedFuture(1)
    seen: list[object] = []
    f.add_done_callback(seen.append)
    assert seen == [f]
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        f.add_done_callback(lambda _: 1 / 0)
    assert "exception calling callback" in caplog.text


def test_wait_and_as_completed_accept_it_among_pending_futures() -> None:
    done = CompletedFuture("now")
    with cf.ThreadPoolExecutor(1) as pool:
        later = pool.submit(lambda: "later")
        finished, pending = cf.wait([done, later], timeout=5.0)
        assert not pending and finished == {done, later}
        assert {f.result() for f in cf.as_completed([done, later], timeout=5.0)} == {"now", "later"}
        first, _ = cf.wait([done, pool.submit(lambda: None)], return_when=cf.FIRST_COMPLETED)
        assert done in first
