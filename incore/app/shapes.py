"""Expression shapes: `o17.data * 2` and `o18.data * 2` are one function of an id.

Generated and real app files repeat the same binding with different ids (one per register,
one per variable). Ids never change once a file is loaded, so a binding may receive its ids
as arguments instead of looking them up as globals: `def f(self, _id0): return _id0.data * 2`
serves every such line, compiled once. Only plain expressions are shaped; anything with
its own name bindings (lambda, comprehension, walrus, keyword arguments named like an id),
escapes or triple quotes is compiled as written, which is always correct.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

PLACEHOLDER = "_incore_id{}_"
_UNSAFE = re.compile(r"\b(?:lambda|for|def|class|global|nonlocal|import)\b|:=|\\|'''|\"\"\"")
_TOKENS = re.compile(
    r"(?P<s>[rRbBuUfF]{0,2}(?:'[^'\n]*'|\"[^\"\n]*\"))|(?P<c>#[^\n]*)"
    r"|(?<!\w)(?P<n>[^\W\d]\w*)"
)
_SPACE = " \t\n\r"


class _NotShaped(Exception):
    pass


def shape(
    source: str, own: Container[str], ids: Container[str]
) -> tuple[str, tuple[str, ...]] | None:
    """(shaped text, ids in placeholder order), or None to compile `source` as written."""
    if _UNSAFE.search(source):
        return None
    found: dict[str, int] = {}

    def replace(match: Any) -> str:
        name = match.group("n")
        if name is None or name in own or name not in ids:
            return match.group(0)
        i = match.start() - 1
        while i >= 0 and source[i] in _SPACE:
            i -= 1
        if i >= 0 and source[i] == ".":  # an attribute that happens to be named like an id
            return name
        j = match.end()
        while j < len(source) and source[j] in _SPACE:
            j += 1
        if source[j : j + 1] == "=" and source[j + 1 : j + 2] != "=":
            raise _NotShaped  # keyword argument or assignment: keep the name
        index = found.setdefault(name, len(found))
        return PLACEHOLDER.format(index)

    try:
        shaped = _TOKENS.sub(replace, source)
    except _NotShaped:
        return None
    return shaped, tuple(found)
