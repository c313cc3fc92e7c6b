"""MQTT benchmark: what incore publishes to a local Mosquitto, alone and as a fleet.

Every run starts its own Mosquitto (a generated config on a free 127.0.0.1 port) and stops
it at the end; publishers run in child processes (bench/harness.py's ChildProcess), the
consumer is paho in this process, subscribed to `bench/#` at QoS 1. Payloads are incore's
JSON, `{"value": seq, "quality": "Good", "timestamp": ms}`, with one sequence per topic.

Throughput: one publisher changes N values, round after round, for SECONDS: incore (a
loop callback writes every MqttPublication's `data`, then posts itself again, so acks
and timers get their turn) and the floor, a plain paho loop (`client.publish` of the same
JSON payloads, paho's own in-flight window; QoS 1 waits for the last PUBACK). Values/s
is what the consumer received over the span from the first arrival to the last. Issue
13's target: incore at least 0.7x the floor, at QoS 0 and at QoS 1.

Scale: FLEET incore processes, each with VALUES MqttPublications (QoS 1) all written every
period, one broker, one consumer. The periods step down until a step is not sustained
(the publishers fell behind their schedule, the consumer got less than was sent, a value
was lost, or p99 passed a second). Per step: values/s delivered, end-to-end latency (the
payload's timestamp, taken when `data` was written, against arrival; same clock, 1 ms
resolution), values lost (gaps in each topic's sequence), and the CPU of the broker, the
busiest publisher and the consumer, from /proc: the one near 100% (of one CPU) is the limit.

    python -m bench.mqtt                 (make bench runs it too)
    python -m bench.mqtt --profile       (also a cProfile of incore's QoS 1 publisher)

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness import ChildProcess, cpu_seconds, free_port

SECONDS = 2.0  # publishing time per throughput turn
ROUNDS = 3  # turns per publisher, the best one counts (this machine is shared)
TOPICS = 100  # values one throughput publisher changes, round after round
TARGET = 0.7  # incore's values/s as a fraction of the paho floor's
FLEET, VALUES = 8, 1_000
PERIODS_MS = (2000, 1000, 500, 250, 100)  # the scale steps: every value written once per period
STEP = 4.0  # seconds per scale step
SETTLE = 2.0  # seconds without a new message that end the wait for the rest
DRAIN = 30.0  # the longest wait for the rest after publishing ended
P99_BOUND = 1000.0  # ms: a step with a worse p99 is not sustained
PAHO_QUEUE = 10_000  # the floor's QoS 1 messages queued in paho at most (its ids wrap at 65,535)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


# -- the broker ----------------------------------------------------------------------------------
class Broker:
    """A Mosquitto of this run: anonymous, no persistence, queues big enough that the
    broker itself drops nothing a slow consumer has not taken yet."""

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

        profiler = cProfile.Profile()

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
            sent = (seq - first) * len(pubs)
            if qos and client.publishedCount - acked < sent:
                loop.call_later(0.001, round_done)  # the last PUBACKs are on their way
                return
            if profiler is not None:
                _print_profile(profiler)
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
    if not profiler.getstats():
        return
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


def serve_fleet(port: int, index: int, qos: int) -> None:
    """`run PERIOD_MS SECONDS`: all VALUES data written every period, this process's turn
    `index / FLEET` of a period after the others'; `done FIRST LAST LATE`: the sequence
    numbers written, and the most a round ended after it was due, in seconds."""
    topics = [f"bench/fleet/{index}/{i}" for i in range(VALUES)]
    loop, client, pubs = _incore_client(port, topics, qos, f"fleet{index}")
    seq = 0

    def run(_: str, period_ms: str, seconds: str) -> None:
        period, planned = float(period_ms) / 1000, round(float(seconds) * 1000 / float(period_ms))
        start, first, done, late = time.perf_counter() + index / FLEET * period, seq + 1, 0, 0.0

        def tick() -> None:
            nonlocal seq, done, late
            seq += 1
            for pub in pubs:
                pub.data = seq
            now = time.perf_counter()
            late = max(late, now - (start + done * period))
            done += 1
            if done < planned:
                loop.call_later(start + done * period - now, tick)
            else:
                print(f"done {first} {seq} {late:.3f}", flush=True)

        loop.call_later(start - time.perf_counter(), tick)

    _commands(loop, run)
    print("ready", flush=True)
    loop.run()
    client.shutdown()


SERVE = {"incore": serve_incore, "paho": serve_paho, "fleet": serve_fleet}


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


def _fleet_child(port: int, index: int) -> ChildProcess:
    cmd = [sys.executable, "-m", "bench.mqtt", "--serve", "fleet", str(port), str(index), "1"]
    return ChildProcess(cmd, f"fleet publisher {index}")


def scale_step(children: list[ChildProcess], consumer: Consumer, cpu: Cpu, period: int) -> dict:
    consumer.take()
    cpu.start()
    t0 = time.time() * 1000
    for child in children:
        assert child.proc.stdin is not None
        child.proc.stdin.write(f"run {period} {STEP}\n")
        child.proc.stdin.flush()
    answers = [child._read().split() for child in children]  # done FIRST LAST ELAPSED
    percent = cpu.percent()
    expected = {str(i): range(int(a[1]), int(a[2]) + 1) for i, a in enumerate(answers)}
    written = sum(len(r) for r in expected.values()) * VALUES
    consumer.wait(written)
    got = consumer.take()
    seqs: dict[str, set[int]] = {}
    latencies = []
    for topic, payload, arrival in got:
        doc = json.loads(payload)
        seqs.setdefault(topic, set()).add(doc["value"])
        latencies.append(arrival - doc["timestamp"])
    lost = 0
    for i, seq_range in expected.items():
        for v in range(VALUES):
            have = seqs.get(f"bench/fleet/{i}/{v}", set())
            lost += sum(1 for s in seq_range if s not in have)
    latencies.sort()
    unique = sum(len(s) for s in seqs.values())
    last = max((a for _, _, a in got), default=t0)
    rate = unique / max(STEP, (last - t0) / 1000)
    offered = FLEET * VALUES * 1000 / period
    pick = latencies.__getitem__
    p50 = pick(len(latencies) // 2) if latencies else float("nan")
    p99 = pick(min(len(latencies) - 1, len(latencies) * 99 // 100)) if latencies else float("nan")
    kept = all(float(a[3]) < period / 2000 for a in answers)  # each round within half a period
    publishers = [v for k, v in percent.items() if k.startswith("publisher")]
    return {
        "period": period,
        "offered": offered,
        "written": written,
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "lost": lost,
        "kept": kept,
        "broker": percent["broker"],
        "consumer": percent["consumer"],
        "pub_max": max(publishers),
        "pub_sum": sum(publishers),
        "percent": percent,
        "sustained": kept and not lost and rate >= 0.95 * offered and p99 <= P99_BOUND,
    }


def scale(broker: Broker, consumer: Consumer) -> None:
    print(
        f"\n## MQTT fleet: {FLEET} incore processes x {VALUES:,} MqttPublications (QoS 1), "
        f"all written every period for {STEP:g} s, one broker, one consumer "
        f"({os.cpu_count()} CPUs)\n"
    )
    with ThreadPoolExecutor(FLEET) as pool:
        children = list(pool.map(lambda i: _fleet_child(broker.port, i), range(FLEET)))
    rows = []
    try:
        pids = {f"publisher {i}": c.proc.pid for i, c in enumerate(children)}
        cpu = Cpu({**pids, "broker": broker.proc.pid, "consumer": os.getpid()})
        for period in PERIODS_MS:
            rows.append(scale_step(children, consumer, cpu, period))
            if not rows[-1]["sustained"]:
                break
    finally:
        with ThreadPoolExecutor(FLEET) as pool:
            list(pool.map(ChildProcess.close, children))
    print(
        "| period ms | offered values/s | values written | values/s delivered | p50 ms | "
        "p99 ms | lost | schedule kept | broker CPU % | busiest publisher CPU % | "
        "all publishers CPU % | consumer CPU % | sustained |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['period']} | {r['offered']:,.0f} | {r['written']:,} | {r['rate']:,.0f} | "
            f"{r['p50']:.0f} | {r['p99']:.0f} | {r['lost']:,} | {'yes' if r['kept'] else 'no'} "
            f"| {r['broker']:.0f} | {r['pub_max']:.0f} | {r['pub_sum']:.0f} | "
            f"{r['consumer']:.0f} | {'yes' if r['sustained'] else 'no'} |"
        )
    best = max((r["rate"] for r in rows if r["sustained"]), default=0.0)
    top = rows[-1]
    busiest = max(top["percent"].items(), key=lambda kv: kv[1])
    total = sum(top["percent"].values())
    print(
        f"\nHighest sustained: {best:,.0f} values/s delivered, nothing lost. At the last step "
        f"({top['period']} ms) the busiest process was the {busiest[0]} at {busiest[1]:.0f}% "
        f"of one CPU; all of them together {total:.0f}% of the machine's "
        f"{(os.cpu_count() or 1) * 100}%."
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
            scale(broker, consumer)
    finally:
        if consumer is not None:
            consumer.close()
        broker.close()


if __name__ == "__main__":
    main()
