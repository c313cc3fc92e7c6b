"""Modbus TCP objects: ModbusRegister (under a ModbusSlave or a ModbusTcpServer) and the
server; the sans-IO codec they stand on is incore.protocols.modbus."""

from .register import ModbusAddress, ModbusRegister  # noqa: F401
from .server import ModbusTcpServer  # noqa: F401
