"""Handing work from transport threads to the application's event loop.

Transport threads never touch application objects: they call `post(fn, *args)`
(the loop's thread-safe `loop.post`) and the loop runs `fn` on its own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

Post = Callable[..., None]


def call_quietly(what: str, fn: Callable[..., object], *args: object) -> None:
    """Run a user callback, logging (not propagating) its exception.

    Transport threads must survive any callback: one faulty handler may not take the
    listener or a worker down with it.
    """
    try:
        fn(*args)
    except Exception:
        log.exception("%s raised", what)


class Courier:
    """Posts callbacks to the loop and drops, on the loop, those still queued at close().

    When the owner closes its transport from the loop thread, no callback of that
    transport runs afterwards, even one posted just before: the owner never has to
    guard its handlers against a late "connected" or "result".
    """

    def __init__(self, post: Post, name: str) -> None:
        self._post = post
        self._name = name
        self._open = True

    @property
    def open(self) -> bool:
        return self._open

    def close(self) -> None:
        self._open = False

    def deliver(self, fn: Callable[..., object], *args: object) -> None:
        """Post `fn(*args)`; never raises into the transport thread."""
        if not self._open:
            return
        try:
            self._post(self._run, fn, args)
        except Exception:
            log.exception("%s: could not post %r to the loop", self._name, fn)

    def _run(self, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        if self._open:
            fn(*args)
