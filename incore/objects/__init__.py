"""The declarative types users write; importing this package registers all of them."""

from . import (
    foundation,  # noqa: F401
    iec104,  # noqa: F401
    modbus,  # noqa: F401
    mqtt,  # noqa: F401
    s7,  # noqa: F401
)
