"""Object: the base of every type users write, and the metaclass that builds its registry entry.

An Object has typed properties with change signals, declared signals, exposed methods and
enums, children in `objects`, and a parent. The metaclass gives every class a compact layout
(`__slots__` plus one value list), one change signal per property, and registers it by name.
"""

from __future__ import annotations

import copy
import enum
import logging
from collections.abc import Callable, Iterator
from typing import Any

import blinker

from . import engine, registry
from .property import Property
from .signal import ChangeSignal, Signal

log = logging.getLogger("incore.object")

#: Process-wide diagnostics for tools and the opt-in binding-removal log (blinker: these are
#: rare, user-facing hooks where its weak references and namespaces earn their keep).
diagnostics = blinker.Namespace()
binding_removed = diagnostics.signal("binding-removed")

_log_binding_removal = False


def set_binding_removal_diagnostic(enabled: bool) -> None:
    """Log every binding removed by an assignment, with the binding's file:line (opt-in)."""
    global _log_binding_removal
    _log_binding_removal = enabled


class Lifecycle:
    """Named bits of `Object._state` (plain ints: they are tested on hot paths).

    Types test them through `isCompleted`, `isShutDown` and `isLive`; bits from
    `FIRST_TYPE_FLAG` on are free for a type's own flags (DataObject's quality owner).
    """

    COMPLETED = 1  #: complete() ran: start-up work is done
    SHUT_DOWN = 2  #: shutdown() ran: threads and sockets are released
    FIRST_TYPE_FLAG = 16


#: The app layer's expression compiler: fn(obj, text, scope, location) -> callable.
#: Installed by `set_expression_compiler` (the core knows no expression syntax).
_expression_compiler: Callable[..., Callable[[], Any]] | None = None


def set_expression_compiler(compiler: Callable[..., Callable[[], Any]]) -> None:
    """Let `Object.bind(name, "text")` compile expression strings (incore.app does this)."""
    global _expression_compiler
    _expression_compiler = compiler


class ChildrenProperty(Property):
    """`objects`: the children, stored as a tuple so an empty one costs nothing."""

    __slots__ = ()

    def bind_type(self, resolve: Callable[[Any], Any]) -> None:
        qualname = self.qualname

        def to_children(value: Any) -> tuple:
            if isinstance(value, (list, tuple)):
                for child in value:
                    if not isinstance(child, Object):
                        raise TypeError(f"{qualname} holds objects, got {type(child).__name__}")
                return tuple(value)
            raise TypeError(f"{qualname} expects a list of objects")

        self.convert = to_children
        self.type = list
        self.default = ()
        self.mutable = False

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        value = self.convert(value)
        old = obj._v[self.index]
        for child in old:
            if child not in value and child._v[1] is obj:
                Object.parent.write(child, None, False)
        for child in value:
            previous = child._v[1]
            if previous is not None and previous is not obj:
                previous._remove_child(child)
            Object.parent.write(child, obj, False)
        return super().write(obj, value, user)


class ObjectMeta(type):
    """Collects properties, signals, methods and enums; adds change signals; registers."""

    def __new__(mcls, name: str, bases: tuple, ns: dict, register: bool = True, **kw: Any):
        if "__slots__" not in ns and ns.get("__module__", "").startswith("incore."):
            ns["__slots__"] = ()
        cls = super().__new__(mcls, name, bases, ns, **kw)
        mcls._collect(cls, ns)
        if register and not name.startswith("_"):
            registry.register(cls)
        mcls._resolve_pending()
        return cls

    @staticmethod
    def _collect(cls: Any, ns: dict) -> None:
        props: dict[str, Property] = {}
        signals: dict[str, Signal] = {}
        methods: dict[str, registry.Method] = {}
        enums: dict[str, type] = {}
        for base in reversed(cls.__mro__[1:-1]):
            props.update(getattr(base, "_props", {}))
            signals.update(getattr(base, "_own_signals", {}))
            methods.update(getattr(base, "_own_methods", {}))
            enums.update(getattr(base, "_own_enums", {}))
        next_index = ObjectMeta._merge_indices(cls, props)
        own_props = {k: v for k, v in ns.items() if isinstance(v, Property)}
        for k, p in own_props.items():
            p.owner = cls
            inherited = props.get(k)
            p.index = inherited.index if inherited is not None else next_index
            if inherited is None:
                next_index += 1
            props[k] = p
            change = ns.get(k + "Changed")
            if change is None:
                change = ChangeSignal(p)
                change.owner = cls
                setattr(cls, k + "Changed", change)
            signals[change.name] = change
        own_signals = {k: v for k, v in ns.items() if isinstance(v, Signal)}
        for s in own_signals.values():
            s.owner = cls
        signals.update(own_signals)
        own_methods = {
            k: registry.Method(v)
            for k, v in ns.items()
            if callable(v) and getattr(v, "__incore_method__", False)
        }
        methods.update(own_methods)
        own_enums = {
            k: v for k, v in ns.items() if isinstance(v, type) and issubclass(v, enum.Enum)
        }
        enums.update(own_enums)
        for e in own_enums.values():
            for member in e:
                clash = props.get(member.name) or ns.get(member.name)
                if clash is not None and not isinstance(clash, enum.Enum):
                    raise TypeError(f"{cls.__name__}: enum value {member.name} clashes")
                setattr(cls, member.name, member)
        cls._own_props = own_props
        cls._own_signals = {
            **own_signals,
            **{k + "Changed": signals[k + "Changed"] for k in own_props},
        }
        cls._own_methods = own_methods
        cls._own_enums = own_enums
        cls._props = dict(sorted(props.items(), key=lambda kv: kv[1].index))
        cls._signals = signals
        cls._methods = methods
        cls._enums = enums
        cls._nprops = next_index
        for p in own_props.values():
            _pending.append(p)

    @staticmethod
    def _merge_indices(cls: Any, props: dict[str, Property]) -> int:
        """Give inherited properties distinct value slots; return the next free slot.

        Two bases that both extend Object number their own properties from the same slot on
        (DataObject's `data` and ErrorReporting's `errorString`, say). Where such slots clash
        in a class that inherits both, the later property gets a copy with a new slot, set on
        this class so that attribute access and `_props` agree.
        """
        used: dict[int, str] = {}
        clashing = []
        for name, p in sorted(props.items(), key=lambda kv: kv[1].index):
            if p.index in used and used[p.index] != name:
                clashing.append(name)
            else:
                used[p.index] = name
        next_index = max(used, default=-1) + 1
        for name in clashing:
            clone = copy.copy(props[name])
            clone.index = next_index
            clone.owner = cls
            next_index += 1
            setattr(cls, name, clone)
            props[name] = clone
        return next_index

    @staticmethod
    def _resolve_pending() -> None:
        still = []
        for p in _pending:
            try:
                p.bind_type(registry.resolve_type)
            except TypeError as exc:
                if "unknown type" in str(exc):
                    still.append(p)
                    continue
                raise
        _pending[:] = still

    def __init__(cls, name: str, bases: tuple, ns: dict, register: bool = True, **kw: Any):
        super().__init__(name, bases, ns, **kw)
        cls._prop_list = list(cls._props.values())
        if [p.index for p in cls._prop_list] != list(range(len(cls._prop_list))):
            raise TypeError(f"{name}: property slots are not contiguous; reorder the bases")
        for p in cls._prop_list:
            if p.on_write is not None and not callable(getattr(cls, p.on_write, None)):
                raise TypeError(
                    f"{name}.{p.name}: on_write names '{p.on_write}', which is not "
                    f"a method of {name}"
                )
        cls._defaults = [p.initial() for p in cls._prop_list]
        cls._mutable = tuple(p.index for p in cls._prop_list if p.mutable)


_pending: list[Property] = []
_LIVE_MASK = Lifecycle.COMPLETED | Lifecycle.SHUT_DOWN


class Object(metaclass=ObjectMeta):
    """The base type: an id, a parent, children, JSON state save/restore, completion.

    Construct with keyword properties: `DataObject(data=5, objectId="a")`. `objects=[...]`
    adds children. Unknown names raise TypeError naming the closest property.
    """

    __slots__ = ("_v", "_obs", "_bindings", "_state", "__weakref__")

    #: Child types this type accepts in `objects` (names or classes; "Object" = any).
    accepts: tuple = ()
    #: Modifiers (Polling, Connections) are accepted under any object.
    modifier: bool = False

    objectId = Property(
        str,
        "",
        doc="An identifier that is stored with the object's state "
        "(serializeProperties) and matches children when restoring it.",
    )
    parent = Property("Object", None, readonly=True, doc="The object this one is a child of.")
    objects = ChildrenProperty(
        list, (), serializable=False, doc="The children of this object (the default property)."
    )

    completed = Signal(doc="Emitted after this object and all of its children are complete.")

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        cls = type(self)
        values = cls._defaults[:]
        for i in cls._mutable:
            values[i] = cls._prop_list[i].initial()
        self._v = values
        self._obs = None
        self._bindings = None
        self._state = 0
        children = properties.pop("objects", None)
        for name, value in properties.items():
            self._init_set(name, value)
        if children:
            self.objects = children
        if parent is not None:
            parent.appendChild(self)

    def _init_set(self, name: str, value: Any) -> None:
        prop = type(self)._props.get(name)
        if prop is None:
            raise TypeError(
                f"{type(self).__name__} has no property '{name}'"
                f"{registry.suggest(name, type(self)._props)}"
            )
        if prop.readonly:
            raise AttributeError(f"{prop.qualname} is read-only")
        if callable(value) and prop.type is not object and not isinstance(value, Object):
            self.bind(name, value)
            return
        if prop.checked:  # the declared rules hold for Python as for app files
            problem = prop.problem(prop.convert(value))
            if problem:
                raise ValueError(problem)
        setattr(self, name, value)

    def __repr__(self) -> str:
        oid = self._v[0]
        return f"<{type(self).__name__}{' ' + oid if oid else ''}>"

    # -- subscriptions (used by bindings and signals) ------------------------------------
    def _subscribe(self, key: str, subscriber: Any) -> None:
        obs = self._obs
        if obs is None:
            self._obs = {key: [subscriber]}
            return
        lst = obs.get(key)
        if lst is None:
            obs[key] = [subscriber]
        else:
            lst.append(subscriber)

    def _unsubscribe(self, key: str, subscriber: Any) -> None:
        obs = self._obs
        if obs is None:
            return
        lst = obs.get(key)
        if lst and subscriber in lst:
            remaining = [s for s in lst if s is not subscriber]
            if remaining:
                obs[key] = remaining
            else:
                del obs[key]

    def _subscribers(self, key: str) -> list:
        obs = self._obs
        if obs is None:
            return []
        return obs.get(key) or []

    # -- bindings ----------------------------------------------------------------------------
    def bind(
        self,
        name: str,
        fn: Callable[[], Any] | str,
        *,
        location: str = "",
        source: str = "",
        scope: dict | None = None,
    ) -> engine.Binding:
        """Make property `name` follow `fn()` (or an expression string), like QML's `:`."""
        prop = type(self)._props.get(name)
        if prop is None:
            raise TypeError(
                f"{type(self).__name__} has no property '{name}'"
                f"{registry.suggest(name, type(self)._props)}"
            )
        if isinstance(fn, str):
            if _expression_compiler is None:
                raise RuntimeError("expression bindings need incore.app (import incore)")
            source = source or fn
            fn = _expression_compiler(self, fn, scope or {}, location)
        self.unbind(name)
        b = engine.Binding(self, prop, fn, location=location, source=source)
        if self._bindings is None:
            self._bindings = {}
        self._bindings[name] = b
        b.raise_level(b.level)  # bindings that already read `name` now come after this one
        if engine.in_wave():
            b.mark_dirty()
        else:
            engine.schedule_call(b.evaluate, ())
        return b

    def unbind(self, name: str) -> None:
        """Remove the binding of `name`, keeping its current value."""
        if self._bindings and name in self._bindings:
            self._bindings.pop(name).detach()

    def binding(self, name: str) -> engine.Binding | None:
        return self._bindings.get(name) if self._bindings else None

    def _remove_binding(self, name: str, reason: str) -> None:
        b = self._bindings.pop(name)
        b.detach()
        if _log_binding_removal:
            where = f"{b.location}: " if b.location else ""
            log.warning(
                "%sbinding of %s.%s (`%s`) removed by %s",
                where,
                type(self).__name__,
                name,
                b.source,
                reason,
            )
        if binding_removed.receivers:
            binding_removed.send(self, name=name, binding=b, reason=reason)

    # -- internal writes ---------------------------------------------------------------------
    def _update(self, name: str, value: Any) -> bool:
        """Set a property from inside the object (read-only ones too, no on_write hook)."""
        state = engine.state
        if engine._heap and state.capture is None:
            engine.settle_all()
        state.phase += 1
        return type(self)._props[name].write(self, value, False)

    def setProperty(self, name: str, value: Any) -> None:
        """Write a property by name (what app files and --set do)."""
        if name not in type(self)._props:
            raise TypeError(
                f"{type(self).__name__} has no property '{name}'"
                f"{registry.suggest(name, type(self)._props)}"
            )
        setattr(self, name, value)

    # -- tree --------------------------------------------------------------------------------
    def appendChild(self, child: Object) -> None:
        self.objects = self._v[2] + (child,)

    def _remove_child(self, child: Object) -> None:
        children = self._v[2]
        if child in children:
            type(self).objects.write(self, tuple(c for c in children if c is not child), False)

    def children(self) -> tuple:
        return self._v[2]

    def walk(self) -> Iterator[Object]:
        """Yield this object and all descendants, depth first, parents before children."""
        yield self
        for child in self._v[2]:
            yield from child.walk()

    def findChild(self, objectId: str) -> Object | None:
        for obj in self.walk():
            if obj._v[0] == objectId and obj is not self:
                return obj
        return None

    # -- life cycle --------------------------------------------------------------------------
    @property
    def isCompleted(self) -> bool:
        """complete() ran (the object is started or was)."""
        return bool(self._state & Lifecycle.COMPLETED)

    @property
    def isShutDown(self) -> bool:
        """shutdown() ran: the object must not start I/O any more."""
        return bool(self._state & Lifecycle.SHUT_DOWN)

    @property
    def isLive(self) -> bool:
        """Completed and not shut down: the window in which an object does its work."""
        return self._state & _LIVE_MASK == Lifecycle.COMPLETED

    def has_receivers(self, signal: str) -> bool:
        """True if anything listens to `signal` (a signal name or a property's `fooChanged`):
        lets a type skip building arguments nobody will see."""
        obs = self._obs
        if not obs:  # most objects: nothing listens to anything
            return False
        key = (
            signal[:-7]
            if signal.endswith("Changed") and signal[:-7] in type(self)._props
            else signal
        )
        return bool(obs.get(key))

    def complete(self) -> None:
        """Complete children first, then this object; then emit `completed` (QML order)."""
        if self._state & Lifecycle.COMPLETED:
            return
        for child in self._v[2]:
            child.complete()
        self._state |= Lifecycle.COMPLETED
        self._on_completed()
        self.completed.emit()

    def _on_completed(self) -> None:
        """Start-up work of operational objects (start timers, connect, listen)."""

    def shutdown(self) -> None:
        """Stop what `complete()` started, children first; safe to call twice."""
        if self._state & Lifecycle.SHUT_DOWN:
            return
        self._state |= Lifecycle.SHUT_DOWN
        for child in reversed(self._v[2]):
            child.shutdown()
        try:
            self._on_shutdown()
        except Exception:
            log.exception("error while shutting down %r", self)

    def _on_shutdown(self) -> None:
        """Release threads and sockets."""

    # -- state save/restore (InCore's serializeProperties & co) ------------------------------
    @registry.method
    def serializeProperties(self) -> dict:
        """The serializable properties and children as a dict."""
        from .serialize import serialize_properties

        return serialize_properties(self)

    @registry.method
    def deserializeProperties(self, data: dict) -> None:
        """Restore properties (and children, matched by objectId, else position)."""
        from .serialize import deserialize_properties

        deserialize_properties(self, data)

    @registry.method
    def toJson(self) -> str:
        """serializeProperties() as a JSON string."""
        from .serialize import to_json

        return to_json(self)

    @registry.method
    def fromJson(self, text: str) -> None:
        """Restore from a toJson() string."""
        from .serialize import from_json

        from_json(self, text)


# `parent` was declared before Object existed; resolve it now.
ObjectMeta._resolve_pending()
