"""MqttClient over TLS to a Mosquitto with certificates made at test time (openssl, see
tests/transport/test_tls_contexts.py): a verified broker carries values both ways; a broker
whose certificate our CA did not sign is refused as a TlsError, never connected to."""

from __future__ import annotations

import shutil

import pytest
from mqtt_helpers import WAIT, Broker, Consumer, certificates, loop, needs_mosquitto, received  # noqa: F401

from incore.objects.mqtt import MqttClient, MqttPublication, MqttSubscription, PayloadFormat
from incore.transport.tls import client_context

pytestmark = [
    needs_mosquitto,
    pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command"),
]


@pytest.fixture
def tls_broker(tmp_path):
    broker = Broker(tmp_path, certs=certificates())
    broker.start()
    yield broker
    broker.stop()


def test_a_verified_broker_carries_values_both_ways(loop, tls_broker):
    certs = certificates()
    consumer = Consumer(tls_broker.port, "secure/#", tls=client_context(certs.ca))
    pub = MqttPublication(topic="secure/level", qos=1, format=PayloadFormat.Text, data=3)
    sub = MqttSubscription(topicFilter="secure/level")
    client = MqttClient(
        hostname="127.0.0.1",
        port=tls_broker.port,
        tls=True,
        caCertificate=certs.ca,
        objects=[pub, sub],
    )
    client.complete()
    try:
        assert loop.run_until(lambda: client.connected, WAIT), client.errorString
        assert received(loop, consumer, 1)
        assert consumer.seen[0][:2] == ("secure/level", b"3")
        assert loop.run_until(lambda: sub.data == 3, WAIT)  # our own value, back through TLS
    finally:
        consumer.close()
        client.shutdown()


def test_a_broker_certificate_from_another_ca_is_refused(loop, tls_broker):
    errors = []
    client = MqttClient(
        hostname="127.0.0.1",
        port=tls_broker.port,
        tls=True,
        caCertificate=certificates().other_ca,
        reconnectInterval=50,
    )
    client.errorOccurred.connect(lambda: errors.append(client.errorString))
    client.complete()
    try:
        assert loop.run_until(lambda: errors, WAIT)
        assert client.error == MqttClient.TlsError and not client.connected
        assert "certificate" in errors[0], errors
        # With verification off (a test bench) the same broker is accepted.
        client.verifyPeer = False
        assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    finally:
        client.shutdown()


def test_plain_mqtt_to_a_tls_port_fails_and_says_so(loop, tls_broker):
    client = MqttClient(hostname="127.0.0.1", port=tls_broker.port, timeout=500)
    errors = []
    client.errorOccurred.connect(lambda: errors.append(client.errorString))
    client.complete()
    try:
        assert loop.run_until(lambda: errors, WAIT)
        assert not client.connected and client.error != MqttClient.NoError
    finally:
        client.shutdown()
