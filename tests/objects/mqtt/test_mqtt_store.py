"""Store-and-forward: QoS 1 values made while the broker is away wait in sqlite and arrive
in order, each at least once, with the time they were taken; the bound drops and says so.

The broker runs with persistence here (and the consumer with a kept session), so what it
had queued for the consumer survives its own restart: every gap the consumer sees is then
incore's doing, not the test broker's."""

from __future__ import annotations

import json

import pytest
from mqtt_helpers import WAIT, Broker, Consumer, loop, needs_mosquitto, received  # noqa: F401

from incore.core import EventLoop
from incore.objects.mqtt import MqttClient, MqttPublication, outbox
from incore.objects.mqtt.store import Message, MessageStore, StoreFullPolicy

pytestmark = needs_mosquitto


def values_of(consumer: Consumer) -> list[dict]:
    return [json.loads(p) for _, p, _ in consumer.seen]


def first_occurrences(values: list) -> list:
    """The values in the order they first arrived (QoS 1 may repeat one after a loss)."""
    seen: set = set()
    return [v for v in values if not (v in seen or seen.add(v))]


def durable_consumer(broker: Broker, topic: str) -> Consumer:
    consumer = Consumer(broker.port, topic, qos=1, client_id="historian", clean=False)
    consumer.client.reconnect_delay_set(0.05, 0.2)
    return consumer


def make_client(loop: EventLoop, broker: Broker, store: str, **pub_props) -> MqttClient:
    pub = MqttPublication(topic="cell1/seq", qos=1, **pub_props)
    client = MqttClient(
        hostname="127.0.0.1",
        port=broker.port,
        storeFile=store,
        reconnectInterval=20,
        maxReconnectInterval=100,
        objects=[pub],
    )
    client.complete()
    assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    return client


def run_for(loop: EventLoop, seconds: float) -> None:
    loop.run_until(lambda: False, seconds)


@pytest.mark.parametrize("direct_limit", [outbox.DIRECT_LIMIT, 20], ids=["default", "tight"])
def test_values_made_while_the_broker_is_away_arrive_once_in_order_with_their_timestamps(
    loop, tmp_path, monkeypatch, direct_limit
):
    # "tight": most messages wait in the store while the broker is still there, and the
    # unacknowledged ones go back ahead of them when it goes away
    monkeypatch.setattr(outbox, "DIRECT_LIMIT", direct_limit)
    broker = Broker(tmp_path, persistence=True)
    broker.start()
    consumer = durable_consumer(broker, "cell1/seq")
    client = make_client(loop, broker, str(tmp_path / "store.sqlite"))
    pub = client.children()[0]
    stored_peak = 0
    made_at: dict[int, int] = {}
    try:
        for i in range(300):
            if i == 100:
                broker.stop()  # mid-stream; the loop learns of it when paho does
            if i == 200:
                assert client.storedCount > 0 and not client.connected
                broker.start()
            pub.data = i
            made_at[i] = pub.timestamp
            stored_peak = max(stored_peak, client.storedCount)
            run_for(loop, 0.002)
        assert loop.run_until(lambda: client.storedCount == 0 and client.connected, WAIT)
        everything = set(range(300))
        assert loop.run_until(
            lambda: consumer.wait_for(
                lambda s: {json.loads(p)["value"] for _, p, _ in s} >= everything, 0.01
            ),
            WAIT,
        ), sorted(everything - {d["value"] for d in values_of(consumer)})
        docs = values_of(consumer)
        assert first_occurrences([d["value"] for d in docs]) == list(range(300))
        # Each value carries the time it was taken, not the time it was replayed.
        assert all(d["timestamp"] == made_at[d["value"]] for d in docs)
        assert stored_peak >= 50 and client.droppedCount == 0
        assert client.publishedCount >= 300
    finally:
        consumer.close()
        client.shutdown()
        broker.stop()


def test_the_store_file_keeps_messages_across_a_restart_of_incore(loop, tmp_path):
    broker = Broker(tmp_path, persistence=True)
    broker.start()
    consumer = durable_consumer(broker, "cell1/seq")
    store = str(tmp_path / "store.sqlite")
    client = make_client(loop, broker, store)
    pub = client.children()[0]
    broker.stop()
    assert loop.run_until(lambda: not client.connected, WAIT)
    for i in range(20):
        pub.data = i
    assert client.storedCount == 20
    client.shutdown()  # the process ends with 20 messages on disk
    assert len(MessageStore(store, 100)) == 20

    broker.start()
    again = make_client(loop, broker, store, enabled=False)
    try:
        assert received(loop, consumer, 20)
        assert [d["value"] for d in values_of(consumer)][:20] == list(range(20))
        assert loop.run_until(lambda: again.storedCount == 0, WAIT)
    finally:
        consumer.close()
        again.shutdown()
        broker.stop()


def test_the_bound_drops_the_oldest_counts_signals_and_reports_it(loop, tmp_path):
    broker = Broker(tmp_path, persistence=True)
    broker.start()
    consumer = durable_consumer(broker, "cell1/seq")
    client = make_client(loop, broker, "", data=-1)
    client.storeLimit = 10
    drops = []
    client.valuesDropped.connect(lambda count: drops.append(count))
    pub = client.children()[0]
    try:
        assert received(loop, consumer, 1)  # -1, sent directly
        broker.stop()
        assert loop.run_until(lambda: not client.connected, WAIT)
        for i in range(25):
            pub.data = i
        assert client.storedCount == 10 and client.droppedCount == 15 and sum(drops) == 15
        assert client.error == MqttClient.StoreFullError and "dropped" in client.errorString
        broker.start()
        assert received(loop, consumer, 11)
        assert [d["value"] for d in values_of(consumer)] == [-1, *range(15, 25)]
    finally:
        consumer.close()
        client.shutdown()
        broker.stop()


def test_message_store_order_bound_and_policies(tmp_path):
    def msg(i: int) -> Message:
        return Message("t", str(i).encode(), 1, False, i)

    store = MessageStore(str(tmp_path / "s.sqlite"), 3)
    assert [store.append(msg(i)) for i in range(5)] == [0, 0, 0, 1, 1]
    rows = store.after(0, 10)
    assert [m.stamp for _, m in rows] == [2, 3, 4] and len(store) == 3
    store.remove(rows[0][0])
    store.remove(rows[0][0])  # twice is fine
    assert [m.stamp for _, m in store.after(rows[0][0], 10)] == [3, 4] and len(store) == 2
    assert store.resize(1) == 1 and [m.stamp for _, m in store.after(0, 10)] == [4]
    store.policy = StoreFullPolicy.DropNewest
    assert store.append(msg(9)) == 1 and [m.stamp for _, m in store.after(0, 10)] == [4]
    store.close()
    reopened = MessageStore(str(tmp_path / "s.sqlite"), 0)
    assert len(reopened) == 1 and reopened.append(msg(10)) == 1  # limit 0: nothing stored
    assert [m.payload for _, m in reopened.after(0, 10)] == [b"4"]
    reopened.close()
