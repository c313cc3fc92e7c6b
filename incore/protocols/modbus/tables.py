"""The four Modbus tables, one enum for every layer: the server's store, poll planning and
`ModbusRegister.type` (InCore's numbers: DiscreteInput 1, Coil 2, Input 3, Holding 4)."""

from __future__ import annotations

import enum

__all__ = ["READ_LIMITS", "Table"]


class Table(enum.IntEnum):
    """The four Modbus tables, numbered as `ModbusRegister.type`."""

    DiscreteInput = 1
    Coil = 2
    Input = 3
    Holding = 4

    @property
    def is_bits(self) -> bool:
        """True for the one-bit tables (Coil, DiscreteInput), whose unit is a bit."""
        return self <= Table.Coil

    @property
    def read_function(self) -> int:
        """The function code that reads this table (1 coils, 2 inputs, 3 holding, 4 input)."""
        return _READ_FUNCTIONS[self]

    @property
    def read_limit(self) -> int:
        """The most units one read may ask for: 2000 bits or 125 registers."""
        return READ_LIMITS[self.is_bits]


_READ_FUNCTIONS = {Table.Coil: 1, Table.DiscreteInput: 2, Table.Holding: 3, Table.Input: 4}

#: The most units one read request may ask for, by "is a bit table".
READ_LIMITS = {True: 2000, False: 125}
