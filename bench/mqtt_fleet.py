"""MQTT at scale: FLEET incore processes, each bridging VALUES changing values, publishing
to one Mosquitto, and one consumer; part of bench/mqtt.py's run.

Each process has VALUES MqttPublications (QoS 1) and writes every one's `data` once per
period, its turn `index / FLEET` of a period after the others' (PLC polls are not in step).
The periods step down (the rate goes up) until a step is not sustained: a round ended more
than half a period late, the consumer got less than 0.95x what was offered, a value was
lost, or p99 passed P99_BOUND. Per step: values/s delivered, end-to-end latency (the
payload's timestamp, taken when `data` was written, against arrival; one clock, 1 ms
resolution), values lost (gaps in each topic's sequence), and CPU from /proc: the broker,
the publishers, the consumer, and the whole machine (this machine is shared: other work
shows there too). The verdict names the limit: one process at a whole CPU (the broker and
each Python process use one at most), or the machine's CPUs, with the CPU each party spends
per value delivered, which says what the machine can carry.

    python -m bench.mqtt --part scale

This file doubles as a fleet process: `python -m bench.mqtt_fleet PORT INDEX QOS`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness import ChildProcess
from bench.mqtt import Broker, Consumer, Cpu, _commands, _incore_client

FLEET, VALUES = 8, 1_000
PERIODS_MS = (2000, 1500, 1000, 500, 250, 100)  # every value written once per period
STEP = 6.0  # seconds of publishing per step
P99_BOUND = 1000.0  # ms: a step with a worse p99 is not sustained
SATURATED = 90.0  # % of one CPU (a process) or of all of them (the machine)


def serve_fleet(port: int, index: int, qos: int) -> None:
    """`run PERIOD_MS SECONDS`: every value written once per period; answers `done FIRST
    LAST LATE`: the sequence numbers written, and the most a round ended after it was due
    (seconds)."""
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


def machine_busy() -> tuple[int, int]:
    """(busy, all) jiffies of every CPU since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _fleet_child(port: int, index: int) -> ChildProcess:
    cmd = [sys.executable, "-m", "bench.mqtt_fleet", str(port), str(index), "1"]
    return ChildProcess(cmd, f"fleet publisher {index}")


def step(children: list[ChildProcess], consumer: Consumer, cpu: Cpu, period: int) -> dict:
    """One rate: publish for STEP seconds, wait for the rest, count."""
    consumer.take()
    cpu.start()
    busy0, all0 = machine_busy()
    t0 = time.time() * 1000
    for child in children:
        assert child.proc.stdin is not None
        child.proc.stdin.write(f"run {period} {STEP}\n")
        child.proc.stdin.flush()
    answers = [child._read().split() for child in children]  # done FIRST LAST LATE
    wall, used = cpu.seconds()
    busy1, all1 = machine_busy()
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
    for i, wanted in expected.items():
        for v in range(VALUES):
            have = seqs.get(f"bench/fleet/{i}/{v}", set())
            lost += sum(1 for s in wanted if s not in have)
    latencies = sorted(latencies) or [float("nan")]
    unique = sum(len(s) for s in seqs.values())
    last = max((a for _, _, a in got), default=t0)
    rate = unique / max(STEP, (last - t0) / 1000)
    offered = FLEET * VALUES * 1000 / period
    p99 = latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)]
    kept = all(float(a[3]) < period / 2000 for a in answers)
    publishers = [v for k, v in used.items() if k.startswith("publisher")]
    return {
        "period": period,
        "offered": offered,
        "written": written,
        "rate": rate,
        "p50": latencies[len(latencies) // 2],
        "p99": p99,
        "lost": lost,
        "kept": kept,
        "percent": {name: seconds / wall * 100 for name, seconds in used.items()},
        "pub_max": max(publishers) / wall * 100,
        "pub_sum": sum(publishers) / wall * 100,
        "machine": (busy1 - busy0) / max(all1 - all0, 1) * 100,
        # CPU microseconds per value written in the window (delivered, if sustained)
        "us": {
            "publishers": sum(publishers) / written * 1e6,
            "broker": used["broker"] / written * 1e6,
            "consumer": used["consumer"] / written * 1e6,
        },
        "sustained": kept and not lost and rate >= 0.95 * offered and p99 <= P99_BOUND,
    }


def verdict(rows: list[dict]) -> str:
    best = max((r["rate"] for r in rows if r["sustained"]), default=0.0)
    top = next((r for r in rows if not r["sustained"]), rows[-1])
    name, share = max(top["percent"].items(), key=lambda kv: kv[1])
    cpus = os.cpu_count() or 1
    ours = sum(top["percent"].values()) / cpus
    us = top["us"]
    costs = ", ".join(f"{party} {v:.0f}" for party, v in us.items())
    carry = cpus / sum(us.values()) * 1e6
    head = (
        f"Highest sustained: {best:,.0f} values/s delivered, nothing lost. At "
        f"{top['offered']:,.0f} values/s offered"
    )
    spend = (
        f"CPU us per value: {costs} (the publishers' is incore's objects and paho's client); "
        f"{cpus} CPUs at that cost carry about {carry:,.0f} values/s. With a CPU each, the "
        f"consumer would top out near {1e6 / us['consumer']:,.0f}/s, the broker (one thread) "
        f"near {1e6 / us['broker']:,.0f}/s, each publisher near {1e6 / us['publishers']:,.0f}/s"
        f" of its own ({FLEET} of them {FLEET * 1e6 / us['publishers']:,.0f}/s)"
    )
    if share >= SATURATED:
        return f"{head} the limit is the {name}, at {share:.0f}% of one CPU. {spend}."
    if top["machine"] >= SATURATED:
        return (
            f"{head} the limit is this machine's {cpus} CPUs, {top['machine']:.0f}% busy, "
            f"{ours:.0f}% of them ours (the rest: other work on this machine); no one process "
            f"at a whole CPU (the busiest, the {name}, at {share:.0f}%). {spend}."
        )
    return (
        f"{head} no CPU was saturated (machine {top['machine']:.0f}%, busiest the {name} at "
        f"{share:.0f}%): the wait is in the round trips. {spend}."
    )


def scale(broker: Broker, consumer: Consumer) -> None:
    print(
        f"\n## MQTT fleet: {FLEET} incore processes x {VALUES:,} MqttPublications (QoS 1), "
        f"every value written once per period for {STEP:g} s, one broker, one consumer "
        f"({os.cpu_count()} CPUs)\n"
    )
    with ThreadPoolExecutor(FLEET) as pool:
        children = list(pool.map(lambda i: _fleet_child(broker.port, i), range(FLEET)))
    rows: list[dict] = []
    try:
        pids = {f"publisher {i}": c.proc.pid for i, c in enumerate(children)}
        cpu = Cpu({**pids, "broker": broker.proc.pid, "consumer": os.getpid()})
        for period in PERIODS_MS:
            rows.append(step(children, consumer, cpu, period))
            if not rows[-1]["sustained"]:
                break
    finally:
        with ThreadPoolExecutor(FLEET) as pool:
            list(pool.map(ChildProcess.close, children))
    print(
        "| period ms | offered values/s | values written | values/s delivered | p50 ms | "
        "p99 ms | lost | on schedule | broker CPU % | busiest publisher CPU % | "
        "all publishers CPU % | consumer CPU % | machine CPU % | sustained |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['period']} | {r['offered']:,.0f} | {r['written']:,} | {r['rate']:,.0f} | "
            f"{r['p50']:.0f} | {r['p99']:.0f} | {r['lost']:,} | {'yes' if r['kept'] else 'no'} "
            f"| {r['percent']['broker']:.0f} | {r['pub_max']:.0f} | {r['pub_sum']:.0f} | "
            f"{r['percent']['consumer']:.0f} | {r['machine']:.0f} | "
            f"{'yes' if r['sustained'] else 'no'} |"
        )
    print()
    print(verdict(rows))


if __name__ == "__main__":
    serve_fleet(*(int(x) for x in sys.argv[1:4]))
