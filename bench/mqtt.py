"""MQTT benchmark: what incore publishes to a local Mosquitto, alone and as a fleet.

Every run starts its own Mosquitto (a generated config on a free 127.0.0.1 port) and stops
it at the end; publishers run in child processes (bench/harness.py's ChildProcess), the
consumer is paho in this process, subscribed to `bench/#` at QoS 1. Payloads are incore's
JSON, `{"value": seq, "quality": "Good", "timestamp": ms}`, with one sequence per topic.

Throughput: one publisher changes N values, round after round, for SECONDS: incore (a
loop callback writes every MqttPublication's `data`, then posts itself again, so acks
and timers get their turn) and the floor, a plain paho loop (`client.publish` of the same
JSON payloads, paho's own in-flight window; QoS 1 waits for the last PUBACK). At QoS 1
both keep at most PAHO_QUEUE values unacknowledged (the floor through paho's queue bound,
incore's app by watching `publishedCount`). Values/s is what the consumer received, from
the start of publishing to the last arrival; CPU per value is the publisher's. Issue
13's target: incore at least 0.7x the floor, at QoS 0 and at QoS 1.

Scale (bench/mqtt_fleet.py): 8 incore processes x 1,000 changing values, one broker, one
consumer, at rising rates until one is not sustained: values/s, latency, loss, and where
the CPU goes.

    python -m bench.mqtt                      (make bench runs it too)
    python -m bench.mqtt --profile            (also a cProfile of incore's QoS 1 publisher)
    python -m bench.mqtt --part throughput    (or scale: one part alone)

This file doubles as the publisher processes: `--serve KIND PORT ...` (run by main).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import ChildProcess, cpu_seconds, free_port

SECONDS = 2.0  # publishing time per throughput turn
ROUNDS = 3  # turns per publisher, the best one counts (this machine is shared)
TOPICS = 100  # values one throughput publisher changes, round after round
TARGET = 0.7  # incore's values/s as a fraction of the paho floor's
SETTLE = 2.0  # seconds without a new message that end the wait for the rest
DRAIN = 30.0  # the longest wait for the rest after publishing ended
PAHO_QUEUE = 10_000  # the floor's QoS 1 messages queued in paho at most (its ids wrap at 65,535)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


# -- the broker ----------------------------------------------------------------------------------
class Broker:
    """A Mosquitto of this run: anonymous, no persistence, queues big enough that the
    broker itself drops nothing a slow consumer has not taken yet, and 1,000 messages in
    flight to a subscriber (its default, 20, would make the consumer's round trips the
    limit of every measure here)."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="bench-mqtt-")
        self.port = free_port()
        config = Path(self.dir.name) / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence false",
            "log_dest none",
            "max_queued_messages 10000000",
            "max_inflight_messages 1000",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        config.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("mosquitto did not start") from None
                time.sleep(0.02)  # polling the port, bounded by the deadline

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()


# -- publisher processes -------------------------------------------------------------------------
def _incore_client(port: int, topics: list[str], qos: int, name: str) -> tuple[Any, Any, list]:
    import incore  # noqa: F401  (registers every type)
    from incore.core import EventLoop, set_loop
    from incore.objects.mqtt import MqttClient, MqttPublication

    loop = EventLoop()
    set_loop(loop)
    pubs = [MqttPublication(topic=t, qos=qos) for t in topics]
    client = MqttClient(hostname="127.0.0.1", port=port, clientId=name, objects=pubs)
    client.complete()
    if not loop.run_until(lambda: client.connected, 10):
        raise SystemExit(f"not connected: {client.errorString}")
    return loop, client, pubs


def _commands(loop: Any, handle: Any) -> None:
    """Each stdin line, split, to `handle` on the loop; the loop stops when stdin closes."""

    def read() -> None:
        for line in sys.stdin:
            loop.post(handle, *line.split())
        loop.post(loop.stop)

    threading.Thread(target=read, daemon=True).start()


def serve_incore(port: int, qos: int, profile: bool) -> None:
    """`go SECONDS`: write every publication's data, round after round; `sent COUNT`."""
    loop, client, pubs = _incore_client(port, [f"bench/t/{i}" for i in range(TOPICS)], qos, "")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU, not the waits for the GIL

    seq = 0

    def go(_: str, seconds: str) -> None:
        deadline = time.perf_counter() + float(seconds)
        first, acked = seq, client.publishedCount
        if profiler is not None:
            profiler.enable()

        def round_() -> None:
            nonlocal seq
            if qos and (seq - first) * len(pubs) - (client.publishedCount - acked) > PAHO_QUEUE:
                loop.call_later(0.0005, round_)  # as many unacknowledged as the floor's paho
                return
            seq += 1
            for pub in pubs:
                pub.data = seq
            if time.perf_counter() < deadline:
                loop.post(round_)
            else:
                round_done()

        def round_done() -> None:
            nonlocal profiler
            sent = (seq - first) * len(pubs)
            if qos and client.publishedCount - acked < sent:
                loop.call_later(0.001, round_done)  # the last PUBACKs are on their way
                return
            if profiler is not None:
                _print_profile(profiler)  # of the first turn only
                profiler = None
            print(f"sent {sent}", flush=True)

        round_()

    _commands(loop, go)
    print("ready", flush=True)
    loop.run()
    client.shutdown()


def _print_profile(profiler: Any) -> None:
    import io
    import pstats

    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue(), file=sys.stderr, flush=True)


def serve_paho(port: int, qos: int) -> None:
    """The floor: `client.publish` in a loop, the same topics and payloads."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.max_queued_messages_set(PAHO_QUEUE)
    acked = threading.Event()
    client.on_publish = lambda *_: acked.set()
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    topics = [f"bench/t/{i}" for i in range(TOPICS)]
    dumps, now, full = json.dumps, time.time, paho.MQTT_ERR_QUEUE_SIZE
    print("ready", flush=True)
    seq = 0
    for line in sys.stdin:
        deadline = time.perf_counter() + float(line.split()[1])
        first, info = seq, None
        while time.perf_counter() < deadline:
            seq += 1
            for topic in topics:
                document = {"value": seq, "quality": "Good", "timestamp": int(now() * 1000)}
                payload = dumps(document).encode()
                info = client.publish(topic, payload, qos)
                while info.rc == full:  # paho's queue is full: wait for a PUBACK
                    acked.clear()
                    acked.wait(0.1)
                    info = client.publish(topic, payload, qos)
        if qos and info is not None:
            info.wait_for_publish(DRAIN)
        print(f"sent {(seq - first) * len(topics)}", flush=True)
    client.disconnect()
    client.loop_stop()


SERVE = {"incore": serve_incore, "paho": serve_paho}


# -- the consumer and the measuring side ---------------------------------------------------------
class Consumer:
    """paho in this process, subscribed to `bench/#` at QoS 1: (topic, payload, arrival ms)."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.got: list[tuple[str, bytes, float]] = []
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        clock = time.time

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            self.got.append((msg.topic, msg.payload, clock() * 1000))

        self.client.on_connect = lambda c, *_: c.subscribe("bench/#", 1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, 60)
        self.client.loop_start()
        if not subscribed.wait(10):
            self.close()
            raise RuntimeError("the consumer did not subscribe")

    def take(self) -> list[tuple[str, bytes, float]]:
        got, self.got = self.got, []
        return got

    def wait(self, expected: int) -> None:
        """Until `expected` messages came, SETTLE passed without one, or DRAIN passed."""
        start = last_change = time.monotonic()
        seen = len(self.got)
        while seen < expected:
            time.sleep(0.05)  # polling a count that paho's thread grows, bounded below
            now = time.monotonic()
            if len(self.got) != seen:
                seen, last_change = len(self.got), now
            elif now - last_change > SETTLE or now - start > DRAIN:
                return

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Cpu:
    """CPU % (of one CPU) of some processes over a window: `start()`, then `percent()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = {name: sum(cpu_seconds(pid)) for name, pid in self.pids.items()}

    def seconds(self) -> tuple[float, dict[str, float]]:
        """(wall seconds, CPU seconds of each process) since `start()`."""
        used = {n: sum(cpu_seconds(p)) - self.c0[n] for n, p in self.pids.items()}
        return time.perf_counter() - self.t0, used

    def percent(self) -> dict[str, float]:
        wall, used = self.seconds()
        return {name: cpu / wall * 100 for name, cpu in used.items()}


def throughput_run(broker: Broker, consumer: Consumer, child: ChildProcess) -> dict:
    """One turn of one publisher: values/s from the start of publishing to the last arrival."""
    consumer.take()
    cpu = Cpu({"publisher": child.proc.pid, "broker": broker.proc.pid, "consumer": os.getpid()})
    go = time.time() * 1000
    sent = int(child.ask(f"go {SECONDS}").split()[1])
    consumer.wait(sent)
    wall, used = cpu.seconds()  # publishing and delivery, until the last message came
    got = consumer.take()
    unique = len({(topic, payload) for topic, payload, _ in got})
    took = (got[-1][2] - go) / 1000 if got else 0.0
    return {
        "sent": sent,
        "received": unique,
        "rate": unique / took if took else 0.0,
        "per_10k": used["publisher"] / max(unique, 1) * 10_000,
        **{name: cpu / wall * 100 for name, cpu in used.items()},
    }


def throughput(broker: Broker, consumer: Consumer, profile: bool) -> None:
    print(
        f"\n## MQTT publishing, one process: {TOPICS} values changed round after round for "
        f"{SECONDS:g} s; values/s from the start to the last arrival at the consumer (QoS 1 "
        f"subscription); best of {ROUNDS} turns, taken in turn with the floor\n"
    )
    rows = []
    for qos in (0, 1):
        children = {}
        try:
            for kind in ("paho", "incore"):
                cmd = [sys.executable, "-m", "bench.mqtt", "--serve", kind, str(broker.port)]
                extra = ["--profile"] if profile and kind == "incore" and qos else []
                children[kind] = ChildProcess(cmd + [str(qos)] + extra, f"{kind} publisher")
            turns: dict[str, list[dict]] = {kind: [] for kind in children}
            for _ in range(ROUNDS):
                for kind, child in children.items():
                    turns[kind].append(throughput_run(broker, consumer, child))
        finally:
            for child in children.values():
                child.close()
        for kind, samples in turns.items():
            best = max(samples, key=lambda r: r["rate"])
            lost = sum(r["sent"] - r["received"] for r in samples)
            least = min(r["per_10k"] for r in samples)
            rows.append({**best, "kind": kind, "qos": qos, "lost": lost, "per_10k": least})
    print(
        "| publisher | QoS | values sent | received | values/s delivered | publisher CPU % "
        "| broker CPU % | consumer CPU % | publisher CPU s / 10k values (least) "
        "| lost (all turns) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        label = "paho loop (floor)" if r["kind"] == "paho" else "incore"
        print(
            f"| {label} | {r['qos']} | {r['sent']:,} | {r['received']:,} | {r['rate']:,.0f} | "
            f"{r['publisher']:.0f} | {r['broker']:.0f} | {r['consumer']:.0f} | "
            f"{r['per_10k']:.2f} | {r['lost']:,} |"
        )
    print()
    for qos in (0, 1):
        floor, ours = (
            next(r for r in rows if r["qos"] == qos and r["kind"] == k) for k in ("paho", "incore")
        )
        share = ours["rate"] / floor["rate"] if floor["rate"] else 0.0
        met = "met" if share >= TARGET and not ours["lost"] else "MISSED"
        print(
            f"QoS {qos}: incore {share:.2f}x the paho floor's values/s (target >= {TARGET:g}x: "
            f"{met}); CPU per value {ours['per_10k'] / floor['per_10k']:.2f}x the floor's"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="cProfile incore's publisher")
    parser.add_argument("--part", choices=("all", "throughput", "scale"), default="all")
    args = parser.parse_args(argv)
    if args.serve:
        kind, *rest = args.serve
        numbers = [int(x) for x in rest]
        if kind == "incore":
            serve_incore(*numbers, profile=args.profile)
        else:
            SERVE[kind](*numbers)
        return
    if not os.path.exists(MOSQUITTO):
        print("\n(mqtt benchmark: Mosquitto is not installed)", file=sys.stderr)
        return
    broker = Broker()
    consumer = None
    try:
        consumer = Consumer(broker.port)
        if args.part in ("all", "throughput"):
            throughput(broker, consumer, args.profile)
        if args.part in ("all", "scale"):
            from bench import mqtt_fleet  # it imports this module's pieces

            mqtt_fleet.scale(broker, consumer)
    finally:
        if consumer is not None:
            consumer.close()
        broker.close()


if __name__ == "__main__":
    main()
