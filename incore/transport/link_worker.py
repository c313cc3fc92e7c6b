"""A client connection that also hears what the peer says unasked.

S7 and Modbus speak only when spoken to, and a `ClientWorker` thread that runs
request/response jobs is all they need. IEC 60870-5-104 outstations send spontaneous data
whenever a value changes, and the protocol's timers (t1: acknowledge, t2: confirm,
t3: test an idle link) run whether or not a request is under way. `ListeningWorker` is a
ClientWorker whose thread, while no job runs, waits on the connection too: what arrives is
handed to `on_event`, and the engine's timers fire when they are due. A job interrupts
that wait at once (a byte on a wake-up socket pair), and a caller that may block runs its
request inline meanwhile (the wait holds no lock), so requests lose no time to listening.

While a caller runs requests inline, the listener stops watching the connection (its
epoll interest is switched off) until DEAF_AFTER_INLINE has passed since the last one: the
answers are the caller's to read, and so is what comes between requests sent back to back
(an IEC 104 station's actterm after each actcon). A listener woken for those would only
queue for the job lock and make the caller's next request wait behind it. Then the listener
watches again, and what came meanwhile wakes it at once.
"""

from __future__ import annotations

import logging
import math
import queue
import select
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from incore.transport.handover import Post, call_quietly
from incore.transport.link import Link
from incore.transport.link_stream import BlockingStream
from incore.transport.sockets import NotConnectedError, WakeUp
from incore.transport.tcp_client import ClientWorker, Job

__all__ = ["ListeningWorker", "wait_readable"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds the listener stays deaf to the connection after an inline request (see the
#: module docstring): the longest a frame that comes between requests waits for it.
DEAF_AFTER_INLINE = 0.002


def wait_readable(fds: list[int], timeout: float | None) -> list[int]:
    """The descriptors of `fds` that are readable (or at EOF) within `timeout` seconds
    (None: until one is). poll() where there is one: select() stops at descriptor 1024."""
    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        # whole milliseconds, rounded up: waking early would only spin until the timer
        wait = None if timeout is None else math.ceil(max(0.0, timeout) * 1000)
        return [fd for fd, _ in poller.poll(wait)]
    return select.select(fds, [], [], timeout)[0]


class ListeningWorker(ClientWorker):
    """A `ClientWorker` that listens on its link while no job runs.

    `connect`'s `setup(stream)` must return the `Link` it opened (its handshake
    done); the worker listens on it until the connection is lost or closed. Every event no
    request waits for (unsolicited data, what a timer caused, an event a request's
    `wait_for` passed over) goes to `on_event(event)`, on the thread that holds the
    link at the time: the worker's, or a caller's running a request inline. It must not
    block: post to the loop (batching or bounding as the owner likes). An I/O error while
    listening is a lost connection, reported to `on_lost` as a job's would be.
    """

    def __init__(
        self,
        name: str,
        post: Post,
        *,
        on_event: Callable[[Any], None],
        on_lost: Callable[[BaseException], None] | None = None,
        io_timeout: float = 5.0,
    ) -> None:
        self._on_event = on_event
        self._link: Link[Any] | None = None
        self._wake_up = WakeUp()
        self._listen_until = math.inf  # when the listener's current wait ends (monotonic)
        # The listener's wait set (Linux): the wake-up, and the stream now listened on.
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        if self._epoll is not None:
            self._epoll.register(self._wake_up.fileno(), select.EPOLLIN)
        self._watched: Any = None  # the stream registered in _epoll
        self._armed = False  # _epoll watches it (under the job lock)
        self._deaf_until = 0.0  # the listener does not watch it before (monotonic)
        super().__init__(name, post, on_lost=on_lost, io_timeout=io_timeout)  # starts the thread

    @property
    def link(self) -> Link[Any] | None:
        """The link listened on (None when not connected)."""
        link = self._link
        return link if link is not None and not link.closed else None

    def connect(
        self,
        host: str,
        port: int,
        timeout: float = 3.0,
        setup: Callable[[BlockingStream], Any] | None = None,
        then: Callable[[Future], None] | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> Future:
        """(Re)connect; `setup(stream)` opens the Link to listen on, which is the result.
        `ssl_context` and `server_hostname`: TLS, as for `ClientWorker.connect`."""
        if setup is None:
            raise TypeError(f"{self.name}: a ListeningWorker needs a setup that returns its Link")

        def opened(stream: BlockingStream) -> Link[Any]:
            link = setup(stream)
            if not isinstance(link, Link):
                raise TypeError(f"{self.name}: setup returned {type(link).__name__}, not a Link")
            self._adopt(link)
            return link

        return super().connect(
            host,
            port,
            timeout,
            opened,
            then,
            ssl_context=ssl_context,
            server_hostname=server_hostname,
        )

    def request(
        self, fn: Callable[[Link[Any]], T], then: Callable[[Future[T]], None] | None = None
    ) -> Future[T]:
        """Run `fn(link)` on the worker, in order with the other jobs (NotConnectedError
        when there is no link, `fn` not called)."""
        return self.call(lambda: fn(self._require_link()), then)

    # -- internals -------------------------------------------------------------------------
    def _adopt(self, link: Link[Any]) -> None:
        """Listen on `link` from now on: the events its handshake passed over come first."""
        held, link.held = link.held, []
        link.others = self._deliver
        for event in held:
            self._deliver(event)
        self._link = link

    def _deliver(self, event: Any) -> None:
        call_quietly(f"{self.name}: on_event", self._on_event, event)

    def _require_link(self) -> Link[Any]:
        link = self.link
        if link is None:
            raise NotConnectedError(f"{self.name}: not connected")
        return link

    def _put(self, item: Job | None) -> None:
        super()._put(item)
        self._wake_up.wake()  # the thread may be listening: come and get it

    def _next(self) -> Job | None:
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            link = self._link
            if link is None or link.closed or self._closing:
                return self._queue.get()
            self._listen(link)

    def run_inline(
        self, fn: Callable[..., T], *args: Any, then: Callable[[Future[T]], None] | None = None
    ) -> Future[T] | None:
        """`ClientWorker.run_inline`: a listening worker waits without the job lock, so a
        caller runs its request at once, with the listener deaf to the connection meanwhile
        (see the module docstring); the listener is woken after it if what the request left
        (events, buffered bytes, a sooner timer, a closed link) needs it before its wait ends."""
        future = super().run_inline(self._inline, fn, *args, then=then)
        if future is not None:
            link = self._link
            if link is None or link.closed or self._needs_listener(link):
                self._wake_up.wake()
        return future

    def _lend_job_lock(self, lock: Any) -> bool:
        """The job lock was held when a caller came: by the listener taking what arrived,
        which is soon done, or by another inline caller. Wait for it rather than hand the
        request to the worker and back (None when a job is queued: those go in order)."""
        if self._pending or self._closing or threading.get_ident() == self._thread.ident:
            return False
        if not lock.acquire(True, self._io_timeout):
            return False
        if self._pending:  # a job was queued meanwhile: it goes first, on the worker
            lock.release()
            return False
        return True

    def _inline(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` as the link's holder (under the job lock), with the listener deaf
        to the connection until DEAF_AFTER_INLINE after it; the events the request left
        unclaimed (a frame that came with its answer) go to `on_event` here."""
        if self._armed:
            try:
                self._epoll.modify(self._watched.fileno(), 0)  # type: ignore[union-attr]
            except (OSError, ValueError):  # closed since: the listener registers the next one
                pass
            self._armed = False
        try:
            result = fn(*args)
            link = self._link
            if link is not None and link.pending:
                for event in link.take_events():
                    self._deliver(event)
            return result
        finally:
            self._deaf_until = time.monotonic() + DEAF_AFTER_INLINE

    def _needs_listener(self, link: Link[Any]) -> bool:
        if link.pending or link.stream.pending():
            return True
        if self._listen_until > self._deaf_until + DEAF_AFTER_INLINE and self._epoll is not None:
            return True  # it would sleep on past its deafness, not watching the connection
        wait = link.seconds_to_timer()
        return wait is not None and time.monotonic() + wait < self._listen_until

    def _listen(self, link: Link[Any]) -> None:
        """Take what has come and fire due timers (holding the job lock: whoever holds it
        owns the link), then wait for the peer, the next timer or a job without it, so that
        an inline request need not wait for the listener; an I/O error drops the connection."""
        with self._job_lock:
            if link.closed:
                return
            try:
                for event in link.poll():
                    self._deliver(event)
                wait = link.seconds_to_timer()
                if wait is not None and wait <= 0:
                    return  # a timer is due already: poll again
                stream = link.stream
                if stream.pending():
                    return  # bytes the descriptor cannot announce (kept, or held by TLS)
                if self._epoll is not None:
                    self._watch(stream)
                    deaf = self._deaf_until - time.monotonic()
                    if deaf > 0:  # come back to watch it when the deafness ends
                        wait = deaf if wait is None else min(wait, deaf)
                    elif not self._armed:
                        self._epoll.modify(stream.fileno(), select.EPOLLIN)
                        self._armed = True
                else:
                    fds = [stream.fileno(), self._wake_up.fileno()]
            except OSError as exc:
                self._drop_stream(exc)
                return
            self._listen_until = math.inf if wait is None else time.monotonic() + wait
        if self._epoll is not None:
            # An inline request that closes the stream meanwhile wakes this wait (run_inline).
            timeout = -1 if wait is None else math.ceil(max(0.0, wait) * 1000) / 1000
            for fd, _ in self._epoll.poll(timeout):
                if fd == self._wake_up.fileno():
                    self._wake_up.drain()
            return
        # An inline request may close the stream meanwhile: poll() then reports the closed
        # descriptor (POLLNVAL) as ready, and the next turn sees the link closed.
        ready = wait_readable(fds, wait)
        if fds[1] in ready:
            self._wake_up.drain()

    def _watch(self, stream: Any) -> None:
        """Have the epoll wait on `stream` (under the job lock): a new connection's stream
        replaces the last one's, which closing took out of the set already."""
        if self._watched is stream:
            return
        epoll = self._epoll
        if self._watched is not None:
            try:
                epoll.unregister(self._watched.fileno())
            except (OSError, ValueError):
                pass
        self._watched = None
        self._armed = False
        epoll.register(stream.fileno(), 0)  # _listen arms it, unless a caller made it deaf
        self._watched = stream

    def _run(self) -> None:
        try:
            super()._run()
        finally:
            if self._epoll is not None:
                self._epoll.close()
            self._wake_up.close()
