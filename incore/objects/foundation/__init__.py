"""Foundation types: Application, ObjectArray, DataObject, Measurement, Timer, Polling,
Serializer, Connections. Importing this package registers all of them."""

from .application import Application, ObjectArray
from .connections import Connections
from .data import DataObject, Measurement
from .datatypes import DataType
from .polling import Polling
from .serializer import Serializer
from .timer import Timer

__all__ = [
    "Application",
    "Connections",
    "DataObject",
    "DataType",
    "Measurement",
    "ObjectArray",
    "Polling",
    "Serializer",
    "Timer",
]
