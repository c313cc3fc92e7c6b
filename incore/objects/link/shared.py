"""SharedBase: the metaclass of the protocol-neutral bases (LinkClient, LinkVariable).

Every message about a property names the class that declared it ("S7Client.port expects
1..65535, got 99999"), and that is how a user finds the mistake in an app file. A property
declared once in a shared base would be named after the base ("LinkClient.timeout"), a type
no app file mentions. So every type built on a base created with `shared=True` gets its
own copy of the properties that base declares, owned by it: S7Client's `timeout` is
"S7Client.timeout" and ModbusTcpClient's "ModbusTcpClient.timeout", with one declaration.
"""

from __future__ import annotations

import copy
from typing import Any

from ...core import registry
from ...core.object import ObjectMeta

__all__ = ["SharedBase"]


class SharedBase(ObjectMeta):
    """ObjectMeta, plus: a class declared with `shared=True` lends its properties to the
    types built on it as copies they own (their change signals and slots stay the same)."""

    def __new__(mcls, name: str, bases: tuple, ns: dict, shared: bool = False, **kw: Any) -> Any:
        cls = super().__new__(mcls, name, bases, ns, **kw)
        cls._shared = shared
        for prop_name, prop in list(cls._props.items()):
            owner = prop.owner
            if owner is not cls and isinstance(owner, SharedBase) and owner.__dict__["_shared"]:
                own = copy.copy(prop)
                own.owner = cls
                own.bind_type(registry.resolve_type)  # its converter's messages name cls
                setattr(cls, prop_name, own)
                cls._props[prop_name] = own
        return cls

    def __init__(cls, name: str, bases: tuple, ns: dict, shared: bool = False, **kw: Any) -> None:
        super().__init__(name, bases, ns, **kw)
