"""Every YAML snippet of the user guide and the protocol pages that is a whole app validates.

The guide promises that a snippet is a complete app unless it says otherwise, so a reader can
save and run it. A snippet says otherwise with a first-line comment: `# fragment` (a piece to
put inside an app) or a file name (`# pumps.yaml`: saved under that name beside the page's
other snippets, so an app that includes it finds it; checked too if it is an app). Any other
snippet must be a whole app (one top-level key, a registered type) and pass `incore validate`,
run in-process.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from incore.cli import main as incore
from incore.core import registry

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [*(REPO / "docs" / "guide").glob("*.md"), *(REPO / "docs" / "protocols").glob("*.md")]
)
FENCE = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
FILE_NAME = re.compile(r"#\s*([\w.-]+\.(?:yaml|yml|json))\s*$")


class _Tags(yaml.SafeLoader):
    """Reads `!bind` and `!include` as plain values: only the shape of the block matters here."""


_Tags.add_constructor("!bind", lambda loader, node: None)
_Tags.add_constructor("!include", lambda loader, node: None)


def _blocks(page: Path) -> list[tuple[int, str]]:
    """The page's yaml blocks with the line each starts on."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


def _first_line(block: str) -> str:
    return block.split("\n", 1)[0].strip()


def _is_whole_app(block: str) -> bool:
    tree = yaml.load(block, Loader=_Tags)
    return isinstance(tree, dict) and len(tree) == 1 and next(iter(tree)) in registry.names()


def _cases() -> list[pytest.param]:
    return [
        pytest.param(page, line, block, id=f"{page.parent.name}/{page.name}:{line}")
        for page in PAGES
        for line, block in _blocks(page)
        if not _first_line(block).startswith("# fragment")
        and yaml.load(block, Loader=_Tags) is not None  # comments only (an editor's modeline)
        and not (FILE_NAME.fullmatch(_first_line(block)) and not _is_whole_app(block))
    ]


def test_the_pages_are_there() -> None:
    names = {p.relative_to(REPO / "docs").as_posix() for p in PAGES}
    assert {"guide/01-first-app.md", "protocols/s7.md", "protocols/modbus.md"} <= names
    assert len(_cases()) >= 20, "the snippets were not found: has the fence syntax changed?"


@pytest.mark.parametrize(("page", "line", "block"), _cases())
def test_snippet_is_a_valid_app(
    page: Path, line: int, block: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _is_whole_app(block), (
        f"{page.name}:{line}: not a whole app; mark it with a first line `# fragment`"
    )
    for _, other in _blocks(page):  # the page's named files, for its includes
        name = FILE_NAME.fullmatch(_first_line(other))
        if name:
            (tmp_path / name.group(1)).write_text(other, encoding="utf-8")
    app = tmp_path / "snippet.yaml"
    app.write_text(block, encoding="utf-8")
    status = incore(["validate", str(app)])
    assert status == 0, f"{page.name}:{line}: {capsys.readouterr().err}"


def test_a_broken_snippet_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check can fail: a misspelt property is refused, a list is no whole app."""
    app = tmp_path / "snippet.yaml"
    app.write_text("Application:\n  objects:\n    - Timer: {intervall: 5}\n", encoding="utf-8")
    assert incore(["validate", str(app)]) == 2
    assert "did you mean 'interval'" in capsys.readouterr().err
    assert not _is_whole_app("- DataObject: {data: 1}\n")


LINK = re.compile(r"\]\(([^)\s]+)\)")
#: Examples the guide names that are being written alongside it (issue 12); empty this once
#: they are in, so a link to them is held to exist like every other.
PENDING: set[str] = set()  # files a page may name before they are committed


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation gone, spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_anchor(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


def test_links_between_the_pages_resolve() -> None:
    """Each relative link of the guide, its index, the protocol pages and the README names a
    file that is there and, for a page of docs/, a heading it has."""
    broken = []
    for page in [*PAGES, REPO / "docs" / "guide.md", REPO / "README.md"]:
        for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists() and dest.relative_to(REPO).as_posix() not in PENDING:
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
