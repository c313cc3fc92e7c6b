"""ServerLifeCycle: listening, stopping and retrying for every server object.

An S7Server, a ModbusTcpServer and an IEC104Server all serve on the shared `TcpServer`
(incore/transport/tcp_server.py) and start, stop and fail alike: `start()` listens and is
true on success (also when already running); a port that is taken at the app's start fails
the start with `StartError` (so `incore run` exits non-zero and a service manager notices)
unless `retryListen` keeps trying, with a growing delay, while `status` says Error; `stop()`
ends the retries, closes every connection and the listener and joins the threads. Only the
protocol differs, and a server supplies it through a few hooks:

- `_listen_address()`: (host, port) to listen on, from its properties;
- `_make_tcp(host, port)`: the `TcpServer` with the server's connection factory and limits;
- `_started(host, bound)`, `_stopped()`: what else follows a start or a stop (the port
  property when it was 0, counters, events);
- `_listen_failed_report(host, errno, text, fatal)`: the protocol's own report of a failure
  (snap7's lastError and event; an error code); it must call `_apply_error` when `fatal`.

The server declares `autoStart`, `retryListen` and `status` (`auto_start_property()`,
`retry_listen_property()`, and a `Status` enum with Stopped, Running and Error) and has the
slots `_tcp`, `_retry` and `_backoff` (a `transport.reconnect.Backoff`).
"""

from __future__ import annotations

import logging

from ...core import Object, Property, get_loop, method
from ...transport.tcp_server import TcpServer
from ..errors import StartError, about

__all__ = ["STOP_TIMEOUT", "ServerLifeCycle", "auto_start_property", "retry_listen_property"]

log = logging.getLogger("incore.objects")

#: Seconds stop() waits for the server's threads (a blocked client is woken at once).
STOP_TIMEOUT = 5.0


def auto_start_property() -> Property:
    return Property(
        bool,
        True,
        doc="Start listening when the app is complete; if that fails (port in use, not "
        "allowed), the app stops with an error unless retryListen is set.",
    )


def retry_listen_property() -> Property:
    return Property(
        bool,
        False,
        doc="When listening fails, keep trying (after 0.1 s, then twice as long each time, "
        "up to 5 s) with status Error, instead of failing the start.",
    )


class ServerLifeCycle(Object, register=False):
    """A base of server objects (with `ErrorReporting`): see the module. An Object, so
    that its `start` and `stop` are InCore methods of every server."""

    __slots__ = ()

    # -- hooks -----------------------------------------------------------------------------------
    def _listen_address(self) -> tuple[str, int]:
        raise NotImplementedError

    def _make_tcp(self, host: str, port: int) -> TcpServer:
        raise NotImplementedError

    def _started(self, host: str, bound: int) -> None:
        """Listening on port `bound`: before status turns Running (so a handler of that
        sees the port)."""

    def _stopped(self) -> None:
        """After a stop (status is Stopped, every connection closed)."""

    def _listen_failed_report(self, host: str, errno: int, text: str, fatal: bool) -> None:
        """Report a failure to listen (default: the `ListenError` of the server's `Error`;
        `fatal`: without the warning, since StartError's line says it)."""
        if fatal:
            self._apply_error(self.ListenError, text, False)  # type: ignore[attr-defined]
        else:
            self._report_error(self.ListenError, text)  # type: ignore[attr-defined]

    # -- InCore methods ------------------------------------------------------------------------
    @method
    def start(self) -> bool:
        """Listen on the address and port set; true on success (also when running)."""
        return self._start()

    @method
    def stop(self) -> bool:
        """Close every client connection and the listener; joins their threads."""
        retry, self._retry = self._retry, None  # type: ignore[attr-defined]
        if retry is not None:  # listening failed and a retry was due: no more of them
            retry.cancel()
            self._update("status", self.Status.Stopped)  # type: ignore[attr-defined]
        tcp = self._tcp  # type: ignore[attr-defined]
        if tcp is None:
            return True
        self._tcp = None
        self._core.stopping.set()  # type: ignore[attr-defined]
        if not tcp.stop(STOP_TIMEOUT):
            log.warning(
                "%s: some client threads did not end within %.0f s", about(self), STOP_TIMEOUT
            )
        self._core.inbox.end_drops()  # type: ignore[attr-defined]
        self._update("status", self.Status.Stopped)  # type: ignore[attr-defined]
        self._stopped()
        return True

    # -- listening -------------------------------------------------------------------------------
    def _start_at_completion(self) -> None:
        if self.autoStart:  # type: ignore[attr-defined]
            self._start(fatal=not self.retryListen)  # type: ignore[attr-defined]

    def _start(self, fatal: bool = False) -> bool:
        """Listen; on failure report it, and retry if retryListen says so. `fatal` (the
        start at completion without retryListen) raises StartError instead."""
        self._retry = None
        if self._tcp is not None or self.isShutDown:  # type: ignore[attr-defined]
            return self._tcp is not None
        host, port = self._listen_address()
        try:
            tcp = self._make_tcp(host, port)
            _, bound = tcp.start()
        except (OSError, ValueError, OverflowError) as exc:
            self._listen_failed(host, port, exc, fatal)
            return False
        self._backoff.reset()  # type: ignore[attr-defined]
        self._tcp = tcp
        self._started(host, bound)
        self._update("status", self.Status.Running)  # type: ignore[attr-defined]
        if self.error:  # type: ignore[attr-defined]
            self._clear_error()  # type: ignore[attr-defined]
        return True

    def _listen_failed(self, host: str, port: int, exc: Exception, fatal: bool) -> None:
        errno = getattr(exc, "errno", None) or 0
        errno = errno if 0 < errno <= 0xFFFF else 0  # a socket error number, or none
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        text = f"cannot listen on {host}:{port}: {reason}"
        self._update("status", self.Status.Error)  # type: ignore[attr-defined]
        if fatal:  # the one line `incore run` prints; no warning besides it
            self._listen_failed_report(host, errno, text, True)
            raise StartError(f"{about(self)}: {text} (set retryListen to keep trying)")
        if self.retryListen:  # type: ignore[attr-defined]
            delay = self._backoff.next()  # type: ignore[attr-defined]
            self._retry = get_loop().call_later(delay, self._start)
            text += f"; trying again in {delay:.1f} s"
        self._listen_failed_report(host, errno, text, False)
