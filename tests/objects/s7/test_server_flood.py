"""An S7Server whose `event` handler is slower than its clients: the loop stays responsive.

A python-snap7 client reads (or writes) as fast as it can, bounded in count and time, while
the handler takes half a millisecond per event. The first event's handler holds the loop
until the client has made far more requests than the event backlog holds, so drops are
certain, not a matter of timing; after that the handler is merely slow, and a Timer must
keep firing while the backlog is worked off and the client goes on.
"""

from __future__ import annotations

import logging
import re
import struct
import threading
import time

from test_s7_server_support import WAIT, loop, make_server, pysnap7  # noqa: F401

from incore.core import EventLoop
from incore.objects.foundation import DataObject, Timer
from incore.objects.s7 import S7Server, S7ServerArea, S7Variable
from incore.objects.s7.server_events import EVENT_BACKLOG, EVENT_BATCH

HANDLER_COST = 0.0005  # seconds per event, as in the report (issue 7)
GATE_REQUESTS = 3 * EVENT_BACKLOG  # requests made while the first event's handler holds on
MOST_REQUESTS = 200_000


class SlowHandler:
    """An `event` handler: the first call waits for `gate`, every call then busies itself
    for HANDLER_COST (on the loop thread, as a handler doing real work would)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.delivered = 0

    def __call__(self, _event: object) -> None:
        if not self.delivered:
            assert self.gate.wait(WAIT), "the client never reached the gate"
        self.delivered += 1
        end = time.perf_counter() + HANDLER_COST
        while time.perf_counter() < end:
            pass


class Client:
    """python-snap7 making requests in a loop on its own thread until `done` (or its bounds);
    it opens the handler's gate after GATE_REQUESTS and notes what the server had dropped."""

    def __init__(self, server: S7Server, handler: SlowHandler, request) -> None:
        self.server = server
        self.handler = handler
        self.request = request
        self.done = threading.Event()
        self.count = 0
        self.at_gate: tuple[int, int] | None = None  # (requests, dropped) when it opened
        self.opened_at = 0.0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            client = pysnap7(self.server)
            deadline = time.monotonic() + 2 * WAIT
            while (
                self.count < MOST_REQUESTS
                and not self.done.is_set()
                and time.monotonic() < deadline
            ):
                self.request(client, self.count)
                self.count += 1
                if self.count == GATE_REQUESTS:
                    # The transport's live count: the property is the loop's view, and
                    # the loop is held by the handler right now.
                    self.at_gate = (self.count, self.server._core.inbox.dropped)
                    self.opened_at = time.monotonic()
                    self.handler.gate.set()
            client.disconnect()
        except BaseException as exc:  # handed to the test
            self.error = exc
            self.handler.gate.set()

    def finish(self, loop: EventLoop) -> None:
        self.done.set()
        assert loop.run_until(lambda: not self.thread.is_alive(), WAIT)
        if self.error is not None:
            raise self.error


def dropped_count(message: str) -> int:
    """N of a "... N events were dropped ..." warning."""
    return int(re.search(r"(\d+) events were dropped", message).group(1))


def ticking(interval_ms: int) -> tuple[Timer, list[float]]:
    """A running Timer and the list of times it triggered at."""
    ticks: list[float] = []
    timer = Timer(interval=interval_ms)
    timer.triggered.connect(lambda: ticks.append(time.monotonic()))
    timer.complete()
    return timer, ticks


def test_a_slow_event_handler_drops_counted_events_and_timers_keep_firing(loop, caplog):
    caplog.set_level(logging.WARNING, logger="incore.s7server")
    server = make_server(eventMask=int(S7Server.evcDataRead))  # one event per read
    handler = SlowHandler()
    server.event.connect(handler)
    timer, ticks = ticking(20)
    client = Client(server, handler, lambda c, _n: c.db_read(1, 0, 4))
    try:
        # The loop works while the client floods it: ten ticks after the gate opened.
        assert loop.run_until(lambda: sum(t > client.opened_at > 0 for t in ticks) >= 10, WAIT)
        still_reading = client.thread.is_alive() and not client.done.is_set()
        count_at_tenth_tick = client.count
    finally:
        client.finish(loop)
        timer.shutdown()
    assert still_reading and count_at_tenth_tick > GATE_REQUESTS
    after = [client.opened_at] + [t for t in ticks if t > client.opened_at]
    gaps = [b - a for a, b in zip(after, after[1:])]
    assert max(gaps) < 0.5, gaps  # a 1.5 s backlog would be one gap without batching

    # While the handler held on, the backlog stayed bounded: the rest was dropped, counted.
    requests, dropped = client.at_gate
    assert requests - dropped <= EVENT_BACKLOG + EVENT_BATCH
    # Every event is either delivered or counted as dropped, once the loop has caught up.
    assert loop.run_until(lambda: handler.delivered + server.droppedEvents == client.count, WAIT), (
        handler.delivered,
        server.droppedEvents,
        client.count,
    )
    # Reported: once when the drops began, and with the count when the handler caught up.
    messages = [r.getMessage() for r in caplog.records]
    assert sum("events are dropped until they catch up" in m for m in messages) >= 1
    counted = [dropped_count(m) for m in messages if "events were dropped" in m]
    assert counted and sum(counted) == server.droppedEvents


def test_client_writes_are_never_dropped_while_events_are(loop):
    word = S7Variable(name="DB2.DBW0")
    mirror = DataObject(data=-1)
    mirror.bind("data", lambda: word.data)  # a property bound to what the clients write
    server = make_server(
        objects=[S7ServerArea(area="DB", index=2, size=16), word],
        eventMask=int(S7Server.evcDataWrite),
    )
    handler = SlowHandler()
    server.event.connect(handler)

    def write(c, n: int) -> None:
        c.db_write(2, 0, bytearray(struct.pack(">H", (n + 1) & 0xFFFF)))

    client = Client(server, handler, write)
    assert loop.run_until(lambda: client.count > GATE_REQUESTS + 500, WAIT)
    client.finish(loop)
    last = client.count & 0xFFFF
    assert server.droppedEvents > 0
    assert loop.run_until(lambda: mirror.data == last, WAIT), (mirror.data, last)
    assert server.getArea(S7Server.srvAreaDB, 2)[:2] == struct.pack(">H", last)


def test_stopping_the_server_mid_flood_reports_the_drops_so_far(loop, caplog):
    caplog.set_level(logging.WARNING, logger="incore.s7server")
    server = make_server(eventMask=int(S7Server.evcDataRead))
    handler = SlowHandler()
    server.event.connect(handler)
    client = Client(server, handler, lambda c, _n: c.db_read(1, 0, 1))
    assert loop.run_until(lambda: server.droppedEvents > 0 and handler.delivered > 0, WAIT)
    server.stop()  # the client's next request fails: its thread ends with that error
    client.done.set()
    client.thread.join(WAIT)
    counted = [
        dropped_count(r.getMessage())
        for r in caplog.records
        if "events were dropped" in r.getMessage()
    ]
    assert len(counted) == 1 and counted[0] == server.droppedEvents > 0
