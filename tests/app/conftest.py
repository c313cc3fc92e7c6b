"""Fixtures of the app-file tests: the X... test types, a loader of inline text."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Iterator

import app_types  # noqa: F401  (registers XRoot, XItem, ...)
import pytest

import incore
from incore.core import engine


@pytest.fixture
def load() -> Callable[..., incore.App]:
    """load(yaml_text, filename="app.yaml", overrides=()) -> App, text dedented."""

    def loader(text: str, filename: str = "app.yaml", overrides: tuple = ()) -> incore.App:
        return incore.load_string(textwrap.dedent(text), filename, overrides)

    return loader


@pytest.fixture(autouse=True)
def clean_engine() -> Iterator[None]:
    """No test leaves a half-run wave or the removal diagnostic behind."""
    yield
    incore.set_binding_removal_diagnostic(False)
    assert not engine.pending()


@pytest.fixture
def binding_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="incore")
    return caplog
