from .client import S7Client  # noqa: F401
from .isotcp_connection import (
    ISOTCPConnection,  # noqa: F401
    S7ConnectionError,  # noqa: F401
    S7TimeoutError,  # noqa: F401
    TPDUSize,  # noqa: F401
)
from .server import S7Server  # noqa: F401
from .server_area import S7ServerArea  # noqa: F401
from .variable import S7Variable  # noqa: F401
