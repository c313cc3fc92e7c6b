"""`hostname` under the spec's other name: Modbus's `networkAddress`, IEC 104's `ip`.

InCore's specs name a client's peer address differently per protocol, and every incore
client also has `hostname` (LinkClient reads it to connect). The two are one setting: a
write of either writes the other; only the spec's name is serialized.
"""

from __future__ import annotations

from ...core import Property

__all__ = ["HostAlias", "host_alias_properties"]


def host_alias_properties(alias: str, doc: str) -> tuple[Property, Property]:
    """`alias` (the spec's name of the peer's address: Modbus `networkAddress`, IEC 104 `ip`)
    and a `hostname` kept equal to it, as `alias, hostname = host_alias_properties(...)`
    with `host_alias = alias` on the class; only the alias is serialized."""
    return (
        Property(str, "", on_write="_host_alias_written", doc=doc),
        Property(
            str,
            "",
            on_write="_aliased_hostname_written",
            serializable=False,
            doc=f"The same as {alias} (the name every incore client shares).",
        ),
    )


class HostAlias:
    """A mixin of LinkClient: keeps `hostname` and `host_alias` equal (the class declares
    both with `host_alias_properties`; the object has a `_syncing` flag)."""

    __slots__ = ()

    def _host_alias_written(self, value: str) -> None:
        self._mirror_host("hostname", value)

    def _aliased_hostname_written(self, value: str) -> None:
        self._mirror_host(self.host_alias, value)  # type: ignore[attr-defined]
        self._settings_written(value)  # type: ignore[attr-defined]

    def _mirror_host(self, name: str, value: str) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            setattr(self, name, value)
        finally:
            self._syncing = False
