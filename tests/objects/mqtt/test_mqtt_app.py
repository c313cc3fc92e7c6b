"""End to end: examples/mqtt_bridge.yaml run by `incore run` as a subprocess, between a
real Mosquitto and python-snap7. A value written into the S7Server's memory by snap7 comes
out of the broker as JSON; a command published with mosquitto_pub lands in the S7 memory,
where snap7 reads it; SIGTERM ends it cleanly (no last will)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import app_process
import pytest
import snap7
from mqtt_helpers import WAIT, Consumer, broker, free_port, needs_mosquitto  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "mqtt_bridge.yaml"

pytestmark = [
    needs_mosquitto,
    pytest.mark.skipif(not shutil.which("mosquitto_pub"), reason="needs mosquitto_pub"),
]


def last_value(consumer: Consumer, topic: str):
    found = [json.loads(p)["value"] for t, p, _ in consumer.seen if t == topic]
    return found[-1] if found else None


def test_incore_run_bridges_s7_values_to_mqtt_and_mqtt_commands_to_s7(broker, tmp_path):
    s7_port = free_port()
    consumer = Consumer(broker.port, "plant/cell1/#")
    proc = subprocess.Popen(
        [sys.executable, "-m", "incore", "run", str(EXAMPLE),
         "--set", f"plc.localPort={s7_port}",
         "--set", f"mqtt.port={broker.port}",
         "--set", f"mqtt.storeFile={tmp_path / 'store.sqlite'}",
         "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    plc = snap7.client.Client()
    try:
        # "online" comes after the subscription was sent on the same connection: from here
        # on, commands reach incore.
        assert consumer.wait_for(
            lambda s: (
                ("plant/cell1/status", b"online", False) in s
                or ("plant/cell1/status", b"online", True) in s
            )
        ), consumer.seen
        plc.connect("127.0.0.1", 0, 2, s7_port)
        plc.db_write(1, 0, bytearray(struct.pack(">f", 42.5)))
        assert consumer.wait_for(lambda s: last_value(consumer, "plant/cell1/level") == 42.5)
        plc.db_write(1, 4, bytearray(b"\x01"))
        assert consumer.wait_for(lambda s: last_value(consumer, "plant/cell1/pump") is True)
        level = [json.loads(p) for t, p, _ in consumer.seen if t == "plant/cell1/level"][-1]
        assert level["quality"] == "Good" and abs(level["timestamp"] / 1000 - time.time()) < 60

        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
             "-t", "plant/cell1/setpoint/set", "-m", "75"],
            check=True, timeout=WAIT,
        )  # fmt: skip
        deadline = time.monotonic() + WAIT
        while plc.db_read(1, 6, 2) != struct.pack(">h", 75) and time.monotonic() < deadline:
            consumer.wait_for(lambda s: False, 0.02)  # a bounded pause between polls of S7
        assert plc.db_read(1, 6, 2) == struct.pack(">h", 75)
    finally:
        plc.disconnect()
        code, err = app_process.stop(proc, WAIT)
        out = proc.stdout.read()
    assert code == 0, err
    assert "SETPOINT 75 from plant/cell1/setpoint/set" in out, out
    assert "MQTT connected" in out
    # A clean shutdown sends DISCONNECT: the broker does not publish the will.
    consumer.wait_for(lambda s: False, 0.3)
    assert ("plant/cell1/status", b"offline", False) not in consumer.seen
    consumer.close()
