"""MQTT: MqttClient (a broker connection through paho-mqtt, with store-and-forward),
MqttPublication (values out) and MqttSubscription (values and commands in).

Needs the `mqtt` extra (`pip install incore[mqtt]`, paho-mqtt 2.x). Without it the types
are not registered, so the core install stays small and an app file that uses them fails
to load with an unknown type.
"""

try:
    import paho.mqtt.client  # noqa: F401
except ImportError:  # pragma: no cover - the extra is not installed
    __all__: list[str] = []
else:
    from .client import MqttClient  # noqa: F401
    from .formats import PayloadFormat  # noqa: F401
    from .publication import MqttPublication  # noqa: F401
    from .subscription import MqttSubscription  # noqa: F401

    __all__ = ["MqttClient", "MqttPublication", "MqttSubscription", "PayloadFormat"]
