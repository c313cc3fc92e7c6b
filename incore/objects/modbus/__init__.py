"""Modbus TCP objects: ModbusRegister (under a ModbusSlave or a ModbusTcpServer), the
server, and the client with its slaves; the sans-IO codec they stand on is
incore.protocols.modbus."""

from .client import ModbusTcpClient  # noqa: F401
from .register import ModbusAddress, ModbusRegister  # noqa: F401
from .server import ModbusTcpServer  # noqa: F401
from .server_veto import ModbusWriteMessage  # noqa: F401
from .slave import ModbusSlave  # noqa: F401
