"""Modbus TCP, sans-IO: MBAP framing, PDU codecs, and the server and client engines."""

from . import bits, blocks, client, device, errors, mbap, pdu, registers, server, store, tables
from .bits import *  # noqa: F403
from .blocks import *  # noqa: F403
from .client import *  # noqa: F403
from .device import *  # noqa: F403
from .errors import *  # noqa: F403
from .mbap import *  # noqa: F403
from .pdu import *  # noqa: F403
from .registers import *  # noqa: F403
from .server import *  # noqa: F403
from .store import *  # noqa: F403
from .tables import *  # noqa: F403

__all__ = sorted(
    {
        *bits.__all__,
        *blocks.__all__,
        *client.__all__,
        *device.__all__,
        *errors.__all__,
        *mbap.__all__,
        *pdu.__all__,
        *registers.__all__,
        *server.__all__,
        *store.__all__,
        *tables.__all__,
    }
)
