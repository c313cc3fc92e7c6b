"""Running an app: complete the tree, run the loop until quit/Ctrl-C/SIGTERM, shut down cleanly.

Shutdown is the part that is easy to get wrong: every object's `_on_shutdown` runs (children
first), so servers stop listening, clients disconnect and worker threads end; threads that
outlive their object are waited for within a bound and then named in a warning, so a
stuck peer can delay the exit by seconds, never forever. A shutdown that takes longer than
SHUTDOWN_REPORT_AFTER logs, once, where every thread is, so the operator (or a test) that
has to kill the process still learns what it waited for. A second Ctrl-C aborts at once,
wherever the first left the app (a handler that does not return, a shutdown that hangs).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ..core import EventLoop, Object, engine, get_loop

log = logging.getLogger("incore")

#: How long shutdown waits for threads that objects started and did not join themselves.
THREAD_JOIN_BOUND = 5.0

#: A shutdown still running after this many seconds logs where every thread is (once).
SHUTDOWN_REPORT_AFTER = 3.0

_STOP_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None
)


class _StopOnSignal:
    """SIGINT/SIGTERM handler: stop the loop, also when the signal comes before it runs.

    A second signal raises KeyboardInterrupt (and marks `aborted`), whether the loop has
    returned or not: a handler that does not return keeps the loop from seeing the stop,
    and a shutdown can hang on a peer, and either way the operator can still end the app.
    """

    def __init__(self, loop: EventLoop) -> None:
        self.loop = loop
        self.signum: int | None = None
        self.running = True
        self.aborted = False
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            log.debug("not the main thread: SIGINT/SIGTERM handlers not installed")
            return
        for signum in _STOP_SIGNALS:
            self.previous[signum] = signal.signal(signum, self)

    def uninstall(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            self.aborted = True
            raise KeyboardInterrupt
        self.signum = signum
        self.loop.stop()
        # If the loop was just entering run() the stop flag may have been reset; a posted
        # stop is seen either way (and ignored once run() has returned).
        self.loop.post(self._confirm)

    def _confirm(self) -> None:
        if self.running:
            self.loop.stop()


def root_of(app_or_root: Any) -> Object:
    """The root object of an App (from load_app), an app file path, or the object itself."""
    if isinstance(app_or_root, Object):
        return app_or_root
    if isinstance(app_or_root, (str, os.PathLike)):
        from .loader import load_app

        return load_app(app_or_root).root
    root = getattr(app_or_root, "root", None)
    if isinstance(root, Object):
        return root
    raise TypeError(
        f"run() expects an App, an app file or an Object, got {type(app_or_root).__name__}"
    )


def run(
    app_or_root: Any, *, install_signal_handlers: bool = True, timeout: float | None = None
) -> int:
    """Run an app until Application.quit(), SIGINT/SIGTERM or `timeout` seconds; return 0.

    `app_or_root` is an App from load_app(), the path of an app file, or a root Object.
    Completes the tree (children before parents), logs "started" as the loop begins, and on
    the way out shuts every object down and waits (bounded) for their threads. A second
    signal raises KeyboardInterrupt at once and skips whatever shutdown is left. An object
    that cannot start (a server that cannot listen) raises StartError out of completion:
    the objects are shut down and the error propagates, for `incore run` to exit non-zero.
    """
    root = root_of(app_or_root)
    name = _label(app_or_root, root)
    loop = get_loop()
    stopper = _StopOnSignal(loop)
    threads_before = set(threading.enumerate())
    previous_owner = engine.set_owner(threading.get_ident(), loop.post)
    try:
        if install_signal_handlers:
            stopper.install()
        root.complete()
        log.info("started %s", name)
        if stopper.signum is None:  # a signal from here on is seen by the loop (see _confirm)
            loop.run(timeout)
        stopper.running = False
        why = f" ({signal.Signals(stopper.signum).name})" if stopper.signum else ""
        log.info("stopping %s%s", name, why)
    finally:
        stopper.running = False
        try:
            if stopper.aborted:  # the operator's second signal: no more waiting
                log.warning("aborted %s: shutdown skipped", name)
            else:
                with _watched(name) as watch:
                    root.shutdown()
                    _join_new_threads(threads_before | {watch})
        finally:
            engine.set_owner(*previous_owner)
            stopper.uninstall()
    log.info("stopped %s", name)
    return 0


def _label(app_or_root: Any, root: Object) -> str:
    """How the logs name the app: Application.name, else the file, else the root's type."""
    name = getattr(root, "name", "")
    if isinstance(name, str) and name:
        return name
    path = getattr(app_or_root, "path", None) or app_or_root
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else type(root).__name__


@contextmanager
def _watched(name: str) -> Iterator[threading.Thread]:
    """Log where every thread is if the block takes longer than SHUTDOWN_REPORT_AFTER
    (the block gets the watching thread, which is not the app's)."""
    watch = threading.Timer(SHUTDOWN_REPORT_AFTER, _report_threads, (name,))
    watch.name = "incore-shutdown-watch"
    watch.daemon = True
    watch.start()
    try:
        yield watch
    finally:
        watch.cancel()
        watch.join()


def _report_threads(name: str) -> None:
    me = threading.get_ident()
    names = {t.ident: t.name for t in threading.enumerate()}
    stacks = [
        f"thread {names.get(ident, ident)}:\n" + "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
        if ident != me
    ]
    log.warning(
        "shutting %s down has taken %g s so far; where each thread is:\n%s",
        name,
        SHUTDOWN_REPORT_AFTER,
        "\n".join(stacks),
    )


def _join_new_threads(before: set[threading.Thread]) -> None:
    """Wait for threads started while the app ran; name those still alive after the bound."""
    deadline = time.monotonic() + THREAD_JOIN_BOUND
    left = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread.name)
    if left:
        log.warning("threads still running after shutdown: %s", ", ".join(left))
