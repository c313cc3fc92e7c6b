"""Load-time errors of app files: one line `FILE:LINE:COL: message`, never a traceback.

A loader keeps going after a mistake so `incore validate` can list every error at once; the
collector keeps them in the order a reader meets them, and `load_app` raises the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class AppError(Exception):
    """A mistake in an app file (or a --set override) at a 1-based line and column.

    `str(err)` is exactly `FILE:LINE:COL: message`. `errors` holds every error found in the
    same load (this one first), so a caller can report one or all.
    """

    def __init__(self, file: str, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.col = col
        self.message = message
        self.errors: list[AppError] = [self]

    @classmethod
    def at(cls, file: str, mark: Any, message: str, dcol: int = 0) -> AppError:
        """An error at a YAML mark (0-based line and column), shifted by `dcol` columns."""
        if mark is None:
            return cls(file, 1, 1, message)
        return cls(file, mark.line + 1, mark.column + 1 + dcol, message)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"

    def __repr__(self) -> str:
        return f"AppError({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AppError) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def report(self, all_errors: bool = False) -> str:
        """The first error, or every error of the load, one per line."""
        return format_errors(self.errors if all_errors else [self])


def format_errors(errors: Iterable[AppError]) -> str:
    return "\n".join(str(e) for e in errors)


class ErrorCollector:
    """Gathers the errors of one load; `raise_first()` raises the earliest with all attached."""

    def __init__(self) -> None:
        self.errors: list[AppError] = []
        self._files: dict[str, int] = {}

    def note_file(self, name: str) -> None:
        """Files sort in the order they were opened (the app file first, then includes)."""
        self._files.setdefault(name, len(self._files))

    def add(self, error: AppError) -> None:
        self._files.setdefault(error.file, len(self._files))
        self.errors.append(error)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def sorted(self) -> list[AppError]:
        """By file (in the order opened), line, column; duplicates dropped."""
        unique = list(dict.fromkeys(self.errors))
        return sorted(unique, key=lambda e: (self._files[e.file], e.line, e.col))

    def raise_first(self) -> None:
        if self.errors:
            errors = self.sorted()
            first = errors[0]
            first.errors = errors
            raise first
