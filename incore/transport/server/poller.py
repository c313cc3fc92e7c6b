"""Readiness of idle connections, armed one shot at a time from any thread.

The hub waits on every idle connection at once. A connection that becomes readable is
handed to a worker and must not be reported again until the worker gives it back, so the
poller reports each arming once: epoll's EPOLLONESHOT does that in the kernel, and the
worker re-arms with a single epoll_ctl from its own thread, without waking the hub. Where
there is no epoll, `SelectorPoller` does the same with a `selectors` selector: report,
unregister, and re-register (and wake the hub, whose wait would not see the new socket).
"""

from __future__ import annotations

import select
import selectors
import threading
from collections.abc import Callable

__all__ = ["Poller", "EpollPoller", "SelectorPoller", "make_poller"]


class Poller:
    """What the hub needs; `arm`/`forget` may be called from any thread."""

    def watch(self, fd: int) -> None:
        """Report `fd` (the listener, the wake-up socket) whenever it is readable."""
        raise NotImplementedError

    def arm(self, fd: int, first: bool) -> None:
        """Report `fd` once, when it is readable (`first`: never armed before)."""
        raise NotImplementedError

    def disarm(self, fd: int) -> None:
        """Take back an armed `fd` that has not been reported (the hub hands the
        connection to a worker for another reason: its handler's deadline)."""
        raise NotImplementedError

    def forget(self, fd: int) -> None:
        """Stop watching `fd` (before it is closed); quiet if it is not watched."""
        raise NotImplementedError

    def poll(self, timeout: float | None) -> list[int]:
        """The descriptors that are readable, waiting at most `timeout` seconds."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class EpollPoller(Poller):
    """Linux: one epoll set; idle connections armed with EPOLLONESHOT."""

    _ONCE = select.EPOLLIN | select.EPOLLONESHOT if hasattr(select, "epoll") else 0

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def watch(self, fd: int) -> None:
        self._epoll.register(fd, select.EPOLLIN)

    def arm(self, fd: int, first: bool) -> None:
        if first:
            self._epoll.register(fd, self._ONCE)
        else:
            self._epoll.modify(fd, self._ONCE)

    def disarm(self, fd: int) -> None:
        # No EPOLLIN; a hang-up is still reported, once, and the hub ignores it.
        self._epoll.modify(fd, select.EPOLLONESHOT)

    def forget(self, fd: int) -> None:
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):  # never armed, or the poller is closed (stop)
            pass

    def poll(self, timeout: float | None) -> list[int]:
        return [fd for fd, _ in self._epoll.poll(-1 if timeout is None else timeout)]

    def close(self) -> None:
        self._epoll.close()


class SelectorPoller(Poller):
    """Elsewhere: a `selectors` selector; a reported connection is unregistered until it
    is armed again, and arming wakes the hub (`wake`) so its next wait includes it."""

    def __init__(
        self,
        wake: Callable[[], None],
        kind: type[selectors.BaseSelector] = selectors.DefaultSelector,
    ) -> None:
        self._selector = kind()
        self._wake = wake
        self._lock = threading.Lock()
        self._once: set[int] = set()

    def watch(self, fd: int) -> None:
        with self._lock:
            self._selector.register(fd, selectors.EVENT_READ)

    def arm(self, fd: int, first: bool) -> None:
        with self._lock:
            self._selector.register(fd, selectors.EVENT_READ)
            self._once.add(fd)
        self._wake()

    def disarm(self, fd: int) -> None:
        with self._lock:
            if fd in self._once:
                self._once.discard(fd)
                self._selector.unregister(fd)

    def forget(self, fd: int) -> None:
        with self._lock:
            self._once.discard(fd)
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError, RuntimeError):  # not registered, or closed
                pass

    def poll(self, timeout: float | None) -> list[int]:
        ready = [key.fd for key, _ in self._selector.select(timeout)]
        with self._lock:
            for fd in ready:
                if fd in self._once:
                    self._once.discard(fd)
                    self._selector.unregister(fd)
        return ready

    def close(self) -> None:
        with self._lock:
            self._selector.close()


def make_poller(wake: Callable[[], None], portable: bool = False) -> Poller:
    """Epoll where the platform has it, else a selectors selector. `portable` picks the
    fallback with poll() (which, unlike epoll, needs the wake-ups), so Linux tests it too."""
    if hasattr(select, "epoll") and not portable:
        return EpollPoller()
    return SelectorPoller(wake, getattr(selectors, "PollSelector", selectors.DefaultSelector))
