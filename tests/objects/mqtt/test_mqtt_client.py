"""MqttClient, MqttPublication and MqttSubscription in one process against a real
Mosquitto: paho's client and mosquitto_sub/mosquitto_pub on the other side."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
from mqtt_helpers import (  # noqa: F401  (fixtures)
    WAIT,
    Broker,
    Consumer,
    broker,
    free_port,
    loop,
    needs_mosquitto,
    publish_once,
    received,
)

from incore.core import EventLoop
from incore.objects.foundation.data import DataObject, Quality
from incore.objects.mqtt import MqttClient, MqttPublication, MqttSubscription, PayloadFormat

pytestmark = needs_mosquitto


def connected_client(loop: EventLoop, port: int, *children, **props) -> MqttClient:
    client = MqttClient(hostname="127.0.0.1", port=port, objects=list(children), **props)
    client.complete()
    assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    return client


def test_a_changing_value_is_published_as_json_with_quality_and_timestamp(loop, broker):
    consumer = Consumer(broker.port, "cell1/#")
    source = DataObject(data=1.5)
    pub = MqttPublication(topic="cell1/level", qos=1)
    pub.bind("data", lambda: source.data)
    client = connected_client(loop, broker.port, pub)
    try:
        assert client.state == MqttClient.Connected and client.error == MqttClient.NoError
        source.data = 2.5
        assert received(loop, consumer, 2)
        docs = [json.loads(p) for _, p, _ in consumer.seen]
        assert [d["value"] for d in docs] == [1.5, 2.5]
        assert docs[1]["quality"] == "Good" and docs[1]["timestamp"] == source.timestamp
        assert loop.run_until(lambda: client.publishedCount == 2, WAIT)
        assert client.storedCount == 0 and pub.publishCount == 2
    finally:
        consumer.close()
        client.shutdown()


def test_deadband_and_min_interval_keep_a_noisy_value_from_flooding_but_send_the_last(loop, broker):
    consumer = Consumer(broker.port, "noisy")
    pub = MqttPublication(
        topic="noisy", format=PayloadFormat.Text, deadband=0.5, minInterval=200, data=10.0
    )
    client = connected_client(loop, broker.port, pub)
    try:
        for value in (10.1, 10.2, 10.4, 10.45):  # within the deadband of 10.0
            pub.data = value
        assert pub.publishCount == 1
        start = time.monotonic()
        for i in range(50):  # beyond it, but all within minInterval: one message, the last
            pub.data = 20.0 + i
        assert pub.publishCount == 1
        assert loop.run_until(lambda: pub.publishCount == 2, WAIT)
        assert time.monotonic() - start >= 0.15
        assert received(loop, consumer, 2)
        assert [p for _, p, _ in consumer.seen] == [b"10.0", b"69.0"]
        pub.quality = Quality.Bad  # a quality change is news whatever the deadband says
        assert loop.run_until(lambda: pub.publishCount == 3, WAIT)
    finally:
        consumer.close()
        client.shutdown()


def test_mosquitto_sub_sees_what_incore_publishes(loop, broker):
    sub = subprocess.Popen(
        [shutil.which("mosquitto_sub") or "mosquitto_sub", "-h", "127.0.0.1", "-p",
         str(broker.port), "-t", "plant/#", "-v", "-C", "2", "-W", str(int(WAIT))],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    pub = MqttPublication(topic="plant/pump", format=PayloadFormat.Text, retain=True, data=True)
    client = connected_client(loop, broker.port, pub)
    try:
        # The retained value reaches mosquitto_sub whenever it subscribes; once it is
        # printed, the subscription is there for the change.
        assert sub.stdout.readline() == "plant/pump true\n"
        pub.data = False
        assert loop.run_until(lambda: sub.poll() is not None, WAIT)
        assert sub.stdout.read().splitlines() == ["plant/pump false"]
    finally:
        sub.kill()
        sub.wait()
        client.shutdown()


@pytest.mark.skipif(not shutil.which("mosquitto_pub"), reason="needs mosquitto_pub")
def test_mosquitto_pub_and_paho_command_incore_through_a_subscription(loop, broker):
    setpoint = DataObject(data=0)
    sub = MqttSubscription(topicFilter="cell1/+/set", qos=1)
    seen = []
    sub.messageReceived.connect(lambda topic, payload: seen.append((topic, payload)))
    command = DataObject()
    command.bind("data", lambda: sub.data)
    client = connected_client(loop, broker.port, sub)
    assert loop.run_until(lambda: client._session is not None, WAIT)
    try:
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
             "-t", "cell1/pump/set", "-m", "42"],
            check=True, timeout=WAIT,
        )  # fmt: skip
        assert loop.run_until(lambda: sub.data == 42, WAIT), sub.errorString
        assert sub.topic == "cell1/pump/set" and command.data == 42
        doc = {"value": 7.5, "quality": "Uncertain", "timestamp": 1_700_000_000_000}
        publish_once(broker.port, "cell1/valve/set", json.dumps(doc))
        assert loop.run_until(lambda: sub.data == 7.5, WAIT)
        assert sub.quality == Quality.Uncertain and sub.timestamp == 1_700_000_000_000
        assert sub.topic == "cell1/valve/set"
        publish_once(broker.port, "cell1/valve/set", b"\xff not json")
        assert loop.run_until(lambda: sub.error == MqttSubscription.DecodeError, WAIT)
        assert sub.data == 7.5  # kept
        publish_once(broker.port, "cell2/valve/set", "1")  # not matched
        publish_once(broker.port, "cell1/valve/set", "true")
        assert loop.run_until(lambda: sub.data is True, WAIT)
        assert [t for t, _ in seen] == ["cell1/pump/set"] + ["cell1/valve/set"] * 3
        assert seen[0][1] == b"42" and sub.error == MqttSubscription.NoError
        setpoint.data = sub.data
    finally:
        client.shutdown()


def test_a_refused_connection_is_an_error_with_retry_and_the_client_connects_when_the_broker_comes(
    loop, tmp_path
):
    late = Broker(tmp_path)
    errors = []
    client = MqttClient(hostname="127.0.0.1", port=late.port, reconnectInterval=50,
                        maxReconnectInterval=200)  # fmt: skip
    client.errorOccurred.connect(lambda: errors.append(client.errorString))
    client.complete()
    try:
        assert loop.run_until(lambda: len(errors) >= 2, WAIT)
        assert client.error == MqttClient.ConnectError and client.state == MqttClient.Connecting
        assert "connection refused" in errors[0] and "retry in" in errors[0]
        late.start()
        assert loop.run_until(lambda: client.connected, WAIT)
        assert client.error == MqttClient.NoError and client.errorString == ""
        late.stop()
        assert loop.run_until(lambda: not client.connected, WAIT)
        assert client.error == MqttClient.ConnectionLostError
        late.start()
        assert loop.run_until(lambda: client.connected, WAIT)
        client.disconnectFromHost()
        assert client.state == MqttClient.Disconnected and not client.connected
    finally:
        client.shutdown()
        late.stop()


def test_the_last_will_is_sent_when_the_client_vanishes_but_not_on_a_clean_disconnect(loop, broker):
    consumer = Consumer(broker.port, "cell1/status")
    client = connected_client(
        loop, broker.port, willTopic="cell1/status", willPayload="offline", keepAlive=1
    )
    client.disconnectFromHost()  # clean: no will
    client.connectToHost()
    assert loop.run_until(lambda: client.connected, WAIT)
    session = client._session
    session.socket().close()  # vanish without DISCONNECT
    try:
        assert received(loop, consumer, 1)
        assert consumer.seen == [("cell1/status", b"offline", False)]
    finally:
        consumer.close()
        client.shutdown()


def test_settings_that_cannot_work_are_a_configuration_error(loop):
    client = MqttClient(hostname="", port=free_port())
    client.complete()
    assert client.error == MqttClient.ConfigurationError and "hostname" in client.errorString
    client.hostname = "127.0.0.1"
    client.tls = True
    client.caCertificate = "/nonexistent/ca.pem"
    client.connectToHost()
    assert client.error == MqttClient.ConfigurationError
    assert "/nonexistent/ca.pem" in client.errorString
    assert client.state == MqttClient.Disconnected
    client.shutdown()


def test_turning_auto_connect_off_stops_the_retries(loop):
    errors = []
    client = MqttClient(hostname="127.0.0.1", port=free_port(), reconnectInterval=20)
    client.errorOccurred.connect(lambda: errors.append(client.errorString))
    client.complete()
    try:
        assert loop.run_until(lambda: len(errors) >= 2, WAIT)
        client.autoConnect = False
        assert client.state == MqttClient.Disconnected
        count = len(errors)
        loop.run_until(lambda: len(errors) > count, 0.3)  # 20 ms retries would show here
        assert len(errors) == count
    finally:
        client.shutdown()
