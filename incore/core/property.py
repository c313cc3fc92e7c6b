"""Observable properties: a typed value slot with a change signal and binding support.

Values live in a per-object list (`obj._v[index]`): a list is smaller than a dict and an
index is faster than a key. Reading a property inside a binding records a dependency; writing
a different value notifies the subscribers (bindings and listeners) through the engine.
"""

from __future__ import annotations

import copy
import enum
import threading
from collections.abc import Callable
from typing import Any

from . import engine
from .convert import converter_for, type_name

_get_ident = threading.get_ident
_state = engine.state
_heap = engine._heap
_notify = engine.notify


class Property:
    """A declared property of an Object type.

    type: bool, int, float, str, bytes, list, dict, object (any value), an IntEnum class,
          or an Object subclass (a reference; may be given by name as a string).
    readonly: users (app files, handlers, Python) may not write it; the object updates it.
    serializable: included in toJson()/serializeProperties() and incore.dumps().
    on_write: name of a method called with the value after every user or binding write,
          changed or not (DataObject.timestamp, S7Variable writes to the PLC).
    minimum, maximum: the range of a number (either may be left open).
    check: a callable that raises ValueError with a message for a value it refuses; its
          docstring's first line says what it allows (docs, schema).
    targets: a registry.ParentTarget: this str property of a modifier names a property of
          the parent (Polling.on).
    schema: the JSON Schema of the literals an app file may give, where the type says too
          little (S7Server.eventMask also takes event names); replaces the type's own.

    The rules are declared once and read by the loader (FILE:LINE:COL errors), the schema, the
    reference docs and the types themselves (`problem()`), never on the write path.
    """

    #: The property whose binding derives this one's value (reads settle that binding).
    follows: str | None = None
    #: The properties a binding of this one derives (DataObject.data: quality, timestamp).
    followers: tuple[str, ...] = ()

    __slots__ = (
        "name",
        "type",
        "default",
        "readonly",
        "doc",
        "serializable",
        "on_write",
        "index",
        "convert",
        "owner",
        "mutable",
        "unit",
        "minimum",
        "maximum",
        "check",
        "targets",
        "schema",
        "checked",
    )

    def __init__(
        self,
        type: Any = object,
        default: Any = None,
        *,
        readonly: bool = False,
        doc: str = "",
        serializable: bool = True,
        on_write: str | None = None,
        unit: str = "",
        minimum: float | None = None,
        maximum: float | None = None,
        check: Callable[[Any], Any] | None = None,
        targets: Any = None,
        schema: dict[str, Any] | None = None,
    ) -> None:
        self.type = type
        self.default = default
        self.readonly = readonly
        self.doc = doc
        self.serializable = serializable and not readonly
        self.on_write = on_write
        self.name = ""
        self.index = -1
        self.owner: type | None = None
        self.convert: Callable[[Any], Any] | None = None
        self.mutable = isinstance(default, (list, dict, bytearray, set))
        self.unit = unit
        self.minimum = minimum
        self.maximum = maximum
        self.check = check
        self.targets = targets
        self.schema = schema
        #: Whether problem() can find anything (the loader skips it otherwise).
        self.checked = (
            minimum is not None or maximum is not None or check is not None or targets is not None
        )

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def bind_type(self, resolve: Callable[[Any], Any]) -> None:
        """Resolve a type given by name and pick the converter (called once per class)."""
        if isinstance(self.type, str):
            self.type = resolve(self.type)
        self.convert = converter_for(self.type, self.qualname)
        if self.default is not None and not isinstance(self.default, (list, dict)):
            self.default = self.convert(self.default)

    @property
    def qualname(self) -> str:
        owner = self.owner.__name__ if self.owner is not None else "?"
        return f"{owner}.{self.name}"

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def is_enum(self) -> bool:
        return isinstance(self.type, type) and issubclass(self.type, enum.Enum)

    # -- declared rules (never on the write path) --------------------------------------------
    def problem(self, value: Any, obj: Any = None) -> str:
        """What is wrong with `value` (already converted) for this property, or "".

        `obj` is the object it is meant for: a `targets` rule needs its parent.
        """
        low, high = self.minimum, self.maximum
        if (
            (low is not None or high is not None)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            if (low is not None and value < low) or (high is not None and value > high):
                return f"{self.qualname} expects {self.range_text()}, got {value!r}"
        if self.check is not None:
            try:
                self.check(value)
            except ValueError as exc:
                return f"{self.qualname}: {exc}"
        if self.targets is not None and obj is not None:
            return self.targets.problem(self, obj, value)
        return ""

    def range_text(self) -> str:
        """The declared range as a reader says it: "1..65535", "0 or more", ""."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{low}..{high}"
        if low is not None:
            return f"{low} or more"
        return f"at most {high}" if high is not None else ""

    def rule_text(self) -> str:
        """Every declared rule in words, for the reference docs and the schema."""
        rules = [self.range_text()]
        if self.check is not None:
            rules.append((self.check.__doc__ or "").strip().split("\n")[0].rstrip("."))
        if self.targets is not None:
            rules.append(self.targets.description)
        return "; ".join(r for r in rules if r)

    def initial(self) -> Any:
        return copy.copy(self.default) if self.mutable else self.default

    def __repr__(self) -> str:
        return f"<Property {self.qualname}: {self.type_name} = {self.default!r}>"

    # -- the hot path ------------------------------------------------------------------------
    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        deps = _state.capture
        if deps is not None:
            deps.append((obj, self.name))
        if _heap:  # bindings are dirty: a bound value is brought up to date before it is read
            bindings = obj._bindings
            if bindings is not None:
                binding = bindings.get(self.name)
                if binding is not None:
                    binding.settle()
        return obj._v[self.index]

    def __set__(self, obj: Any, value: Any) -> None:
        if _get_ident() != _state.owner:
            engine.post_to_owner(self.__set__, obj, value)
            return
        if self.readonly:
            raise AttributeError(f"{self.qualname} is read-only")
        state = _state
        if _heap and state.capture is None:
            engine.settle_all()  # what an earlier write left dirty takes that write's value
        state.phase += 1  # a new write: a binding may be evaluated again (not a loop)
        bindings = obj._bindings
        if bindings is not None and self.name in bindings:
            obj._remove_binding(self.name, "assignment")
        self.write(obj, value, True)

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        """Store `value`; notify on change. `user` runs the on_write hook. True if changed."""
        if value.__class__ is not self.type:
            value = self.convert(value)
        values = obj._v
        old = values[self.index]
        if old is value or (old.__class__ is value.__class__ and old == value):
            if user and self.on_write is not None:
                getattr(obj, self.on_write)(value)
            return False
        values[self.index] = value
        if user and self.on_write is not None:
            getattr(obj, self.on_write)(value)
        observers = obj._obs
        if observers is not None:
            subs = observers.get(self.name)
            if subs:
                _notify(subs, value)
        return True

    def peek(self, obj: Any) -> Any:
        """The value without recording a dependency."""
        return obj._v[self.index]
