"""The loop's side of what IEC 104 clients ask an IEC104Server: commands, clock sync,
connection requests, and the reports of lost events.

`ServerHandlers` is a mixin of IEC104Server (loop thread, except `_connect_check`, which a
worker calls before it serves a new client). Each request is decided by a Python callback
(c104's style: return false to refuse) and by the signal's handlers (app files: call
`request.refuse()` / `message.refuse()`); the answer goes out after that wave, so every
handler had its say.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from ...core import engine, get_loop
from ...protocols.iec104 import Asdu, Cause, encode_asdu, mirror, mirror_bytes
from ..errors import about
from .point_types import Iec104Message

log = logging.getLogger("incore.iec104server")

#: Seconds a new client waits for the connectRequest handlers before it is refused.
CONNECT_TIMEOUT = 2.0
#: How often a run of lost events is checked for its end (seconds).
EPISODE_CHECK = 1.0


class ConnectRequest:
    """A client asking to connect: `ip`, `port`; a handler refuses it with `refuse()`."""

    __slots__ = ("ip", "port", "accepted", "done")

    def __init__(self, ip: str, port: int) -> None:
        self.ip, self.port, self.accepted = ip, port, True
        self.done = threading.Event()

    def refuse(self, reason: str = "") -> None:
        self.accepted = False

    def __repr__(self) -> str:
        return f"<ConnectRequest {self.ip}:{self.port}>"


class ServerHandlers:
    """Mixin of IEC104Server (see the module docstring)."""

    __slots__ = ()

    # -- connection requests (a worker asks, the loop answers) ----------------------------------
    def _connect_check(self, ip: str, port: int) -> bool:
        if self._connect_fn is None and not self.has_receivers("connectRequest"):
            return True
        request = ConnectRequest(ip, port)
        get_loop().post(self._connect_decide, request)
        if not request.done.wait(CONNECT_TIMEOUT):
            log.warning("%s: no answer to %s's connect request in time: refused", about(self), ip)
            return False
        return request.accepted

    def _connect_decide(self, request: ConnectRequest) -> None:
        fn = self._connect_fn
        if fn is not None:
            try:
                if fn(self, request.ip) is False:
                    request.refuse()
            except Exception:
                log.exception("%s: the connect request callback failed", about(self))
                request.refuse()
        self.connectRequest.emit(request.ip, request)
        engine.schedule_call(request.done.set, ())

    # -- commands ------------------------------------------------------------------------------
    def _decided_on_loop(self, entry: Any) -> bool:
        """Worker thread: whether a command to `entry`'s point waits for the loop's verdict
        (a received handler or callback may refuse it, or the point is going). Reads what
        the loop writes: a handler connected a moment later judges the next command."""
        point = entry.key
        return (
            point._callback is not None
            or point.has_receivers("received")
            or not point.isLive
            or self._entries.get(point) is not entry
        )

    def _command(self, session: Any, asdu: Asdu, entry: Any, message: Iec104Message) -> None:
        point = entry.key
        if self._entries.get(point) is not entry or not point.isLive:
            session.reply(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON, negative=True)))
            return
        confirmed: list[bool] = []

        def confirm(m: Iec104Message) -> None:  # accepted: confirmed before it is stored
            session.reply(mirror_bytes(m.raw, Cause.ACTIVATION_CON))
            confirmed.append(True)

        point._command(
            message, lambda m: self._command_done(session, asdu, entry, m, bool(confirmed)), confirm
        )

    def _command_confirmed(
        self, session: Any, asdu: Asdu, entry: Any, message: Iec104Message
    ) -> None:
        """An execute the worker confirmed (no one could refuse it): store it, and with
        return information to send, send that and terminate it."""
        point = entry.key
        if self._entries.get(point) is not entry or not point.isLive:
            log.warning("%s: %r was confirmed, but its point is gone", about(self), message)
            return
        point._command(message, lambda m: self._command_executed(session, asdu, entry, m))

    def _command_executed(self, session: Any, asdu: Asdu, entry: Any, message: Any) -> None:
        if not message.accepted:  # a handler connected since, or the value did not convert
            log.warning(
                "%s: %r was confirmed, but not executed: %s", about(self), message, message.reason
            )
            return
        self._terminate(session, asdu, entry, message.raw)

    def _command_done(
        self, session: Any, asdu: Asdu, entry: Any, message: Any, confirmed: bool = False
    ) -> None:
        """The handlers decided (`confirmed`: an accepted execute, confirmed already): the
        actcon of a refusal or a select, or the execute's termination once stored."""
        accepted = bool(message.accepted)
        if confirmed:
            if accepted:
                self._terminate(session, asdu, entry, message.raw)
            else:  # the value did not convert: confirmed, but not executed
                log.warning(
                    "%s: %r was confirmed, but not executed: %s",
                    about(self),
                    message,
                    message.reason,
                )
            return
        if not accepted:
            log.info("%s: %r refused: %s", about(self), message, message.reason)
            if message.isSelect:
                core = self._core
                with core.lock:
                    held = core.selections.get((entry.ca, entry.ioa))
                    if held is not None and held.session is session:
                        del core.selections[(entry.ca, entry.ioa)]
        session.reply(mirror_bytes(message.raw, Cause.ACTIVATION_CON, negative=not accepted))

    def _terminate(self, session: Any, asdu: Any, entry: Any, raw: bytes) -> None:
        """After an executed command (`raw`: its ASDU as received): the related monitoring
        point's return information (COT 11), then the activation termination."""
        related = (
            self._core.stations.get(entry.ca, {}).get(entry.related) if entry.related else None
        )
        if related is not None and related.info is not None:
            self._point_refresh(related.key)
            feedback = Asdu(related.type_id, Cause.RETURN_REMOTE, entry.ca, (related.info,))
            session.reply(encode_asdu(feedback), urgent=False, pumped=True)  # sent with:
        session.reply(mirror_bytes(raw, Cause.ACTIVATION_TERMINATION), urgent=False)

    # -- clock synchronisation -----------------------------------------------------------------
    def _clock_sync(self, session: Any, asdu: Asdu, targets: list, message: Any) -> None:
        fn = self._clock_fn
        if message.time is None:
            message.refuse("the time tag is no date")
        elif fn is not None:
            try:
                if fn(self, session.ip, message.time) is False:
                    message.refuse("refused by the clock sync callback")
            except Exception as exc:
                message.refuse(f"the clock sync callback failed: {exc}")
        if message.accepted:
            self.clockSync.emit(session.ip, message.time, message)
        engine.schedule_call(self._clock_done, (session, asdu, targets, message))

    def _clock_done(self, session: Any, asdu: Asdu, targets: list, message: Any) -> None:
        for ca in targets:
            answer = mirror(asdu._replace(common_address=ca), Cause.ACTIVATION_CON)
            session.reply(encode_asdu(answer._replace(negative=not message.accepted)))

    # -- events that could not be kept -----------------------------------------------------------
    def _lost(self, session: Any, count: int) -> None:
        """`count` events did not fit `session`'s buffer (None: the offline buffer)."""
        ip = session.ip if session is not None else ""
        self._update("lostEventCount", self.lostEventCount + count)
        if not self._lost_pending:
            get_loop().post(self._report_lost)
        self._lost_pending[ip] += count
        if session is not None:
            if not session.lost_episode:
                log.warning(
                    "%s: client %s reads slower than events come: events its buffer of %d "
                    "cannot keep are dropped (lostEventCount counts them)",
                    about(self),
                    session.peer,
                    session.buffer.limit,
                )
                if not self._episodes:
                    get_loop().call_later(EPISODE_CHECK, self._check_episodes)
                self._episodes.add(session)
            session.lost_episode += count
        elif not self._offline_episode:
            log.warning(
                "%s: no client has data transfer on and the offline buffer of %d events is "
                "full: events are dropped",
                about(self),
                self.eventBufferSize,
            )
            self._offline_episode = True

    def _report_lost(self) -> None:
        pending, self._lost_pending = self._lost_pending, Counter()
        for ip, count in pending.items():
            self.eventsLost.emit(ip, count)

    def _check_episodes(self) -> None:
        for session in list(self._episodes):
            if session.buffer.events <= session.buffer.limit // 2 or not session.active:
                self._end_episode(session)
        if self._episodes:
            get_loop().call_later(EPISODE_CHECK, self._check_episodes)

    def _end_episode(self, session: Any) -> None:
        if session in self._episodes:
            self._episodes.discard(session)
            log.warning(
                "%s: client %s: %d events were dropped while it was behind",
                about(self),
                session.peer,
                session.lost_episode,
            )
            session.lost_episode = 0
