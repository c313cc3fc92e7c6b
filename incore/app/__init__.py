"""App files: YAML/JSON loading with file:line:col errors, expressions, JSON documents,
the JSON Schema and the reference docs, all from the type registry."""

from __future__ import annotations

from typing import Any

from . import expressions  # noqa: F401  (installs the expression compiler in the core)
from .errors import AppError
from .jsondoc import dumps, loads
from .loader import App, load_app, load_string, validate
from .schema import generate_schema

try:
    from .runner import run
except ModuleNotFoundError as exc:  # the runner lands separately; keep this package importable
    if exc.name != f"{__name__}.runner":
        raise

    def run(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        """Complete and run an app until stopped (see incore.app.runner)."""
        from .runner import run as real_run

        return real_run(*args, **kwargs)


__all__ = [
    "App",
    "AppError",
    "dumps",
    "generate_schema",
    "load_app",
    "load_string",
    "loads",
    "run",
    "validate",
]
