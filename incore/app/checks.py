"""The types' declared rules that need more than one value, applied to a file being loaded.

A Property's range, check and ParentTarget are asked before a literal is written
(Builder.write), so that mistake is reported at its value. What is left lives here: a type's
`_check()` of a whole object (its properties together, its children), run once every
reference is resolved and every --set applied, and the ParentTarget of a property the file
leaves at its default (a Polling without `on`). Each problem becomes one error at the node it
concerns, so `incore validate` and `incore run` refuse the same file with the same line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yaml.nodes import Node

from incore.core import Object

from .source import Source

Report = Callable[[Source, "Node | None", str], None]


class ObjectChecks:
    """Collects what the whole-object checks of one load need, then runs them."""

    def __init__(self, report: Report) -> None:
        self.report = report
        #: ids of objects already reported for a value: their whole-object problems would
        #: only repeat the same mistake in other words.
        self.flagged: set[int] = set()
        self._objects: list[Object] = []
        self._nodes: dict[int, tuple[Object, Source, Node, dict[str, Node]]] = {}
        self._has_check: dict[type, bool] = {}
        self._targets: dict[type, list[Any]] = {}

    def flag(self, obj: Object) -> None:
        self.flagged.add(id(obj))

    def built(
        self,
        obj: Object,
        parent: Object | None,
        src: Source,
        key: Node,
        items: list[tuple[Node, Node]],
        declared: list[tuple[str, Node]],
    ) -> None:
        """`obj` was built from the node `key: items`: keep what its checks (or its
        parent's) will point at, and check the parent targets the file left unset."""
        cls = type(obj)
        own = self._checks(cls)
        if own or (parent is not None and self._checks(type(parent))):
            values = {k.value: v for k, v in items}
            values.update(declared)
            self._nodes[id(obj)] = (obj, src, key, values)
        if own:
            self._objects.append(obj)
        targets = self._targeting(cls)
        if targets:
            given = {k.value for k, _ in items} | {name for name, _ in declared}
            for prop in targets:
                if prop.name not in given:
                    problem = prop.problem(getattr(obj, prop.name), obj)
                    if problem:
                        self.flag(obj)
                        self.report(src, key, problem)

    def run(self) -> None:
        """Every whole-object check, in the order the objects were built."""
        for obj in self._objects:
            for problem in obj._check():
                if id(problem.obj) in self.flagged:
                    continue
                src, node = self._where(problem.obj, problem.prop, obj)
                message = problem.message
                if problem.first is not None:
                    first_src, first = self._where(*problem.first, obj)
                    mark = first.start_mark
                    where = "" if first_src is src else f"{first_src.name}:"
                    message += f" (first declared at {where}{mark.line + 1}:{mark.column + 1})"
                self.report(src, node, message)

    def _where(self, obj: Any, prop: str, checker: Object) -> tuple[Source, Node]:
        """The node of `obj.prop` as the file wrote it, else of `obj`'s type name (else of
        the object whose check found the problem)."""
        entry = self._nodes.get(id(obj)) or self._nodes[id(checker)]
        _, src, key, values = entry
        return src, values.get(prop, key) if prop else key

    def _checks(self, cls: type) -> bool:
        found = self._has_check.get(cls)
        if found is None:
            found = self._has_check[cls] = callable(getattr(cls, "_check", None))
        return found

    def _targeting(self, cls: type) -> list[Any]:
        found = self._targets.get(cls)
        if found is None:
            found = self._targets[cls] = [
                p for p in cls._props.values() if p.targets is not None and not p.readonly
            ]
        return found
