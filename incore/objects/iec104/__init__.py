"""IEC 60870-5-104 objects: IEC104Point (under an IEC104Station of an IEC104Server, or under
an IEC104Connection of an IEC104Client); the sans-IO codec they stand on is
incore.protocols.iec104."""

from .client import IEC104Client  # noqa: F401
from .connection import IEC104Connection  # noqa: F401
from .point import IEC104Point  # noqa: F401
from .point_types import Iec104Address, Iec104Message  # noqa: F401
from .server import IEC104Server  # noqa: F401
from .station import IEC104Station  # noqa: F401
