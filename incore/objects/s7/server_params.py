"""S7Server's parameter methods: node-snap7's getParam, setParam and setResourceless.

Kept apart from server.py so that module holds the life cycle.
"""

from __future__ import annotations

from typing import Any

from ...core import Object, method
from .server_events import ServerError

_PARAMS = {1: "localPort", 6: "workInterval", 10: "pduRequest", 11: "maxClients"}


class ParamMethods(Object, register=False):
    """Mixin of S7Server. Expects `Param`, `_tcp` and `_job` from the class it is mixed
    into."""

    @method
    def getParam(self, number: Any) -> Any:
        """A parameter by number (LocalPort 1, WorkInterval 6, PDURequest 10, MaxClients 11)."""
        name = self._param(number)
        if name is None:
            return False
        self._job()
        return getattr(self, name)

    @method
    def setParam(self, number: Any, value: Any) -> bool:
        """Set a parameter by number; false if unknown, invalid, or LocalPort while running."""
        name = self._param(number)
        if name is None:
            return False
        if name == "localPort" and self._tcp is not None:
            return self._job(
                ServerError.CannotChangeParam, "LocalPort can not change while the server runs"
            )
        prop = type(self)._props[name]
        try:
            value = prop.convert(value)
            problem = prop.problem(value)  # the rules an app file's value follows
            if problem:
                raise ValueError(problem)
            setattr(self, name, value)
        except (TypeError, ValueError) as exc:
            return self._job(ServerError.InvalidParams, str(exc))
        return self._job()

    @method
    def setResourceless(self, value: bool) -> bool:
        """Switch resourceless mode (same as writing `resourceless`)."""
        self.resourceless = value
        return True

    def _param(self, number: Any) -> str | None:
        try:
            key = int(self.Param[number]) if isinstance(number, str) else int(number)
        except (KeyError, TypeError, ValueError):
            key = -1
        name = _PARAMS.get(key)
        if name is None:
            self._job(
                ServerError.InvalidParamNumber,
                f"no server parameter {number!r} "
                "(LocalPort 1, WorkInterval 6, "
                "PDURequest 10, MaxClients 11)",
            )
        return name
