"""The broken-app corpus: files that must fail to load with one exact message.

Every case is a file directly in tests/app/broken/ (files under broken/inc/ are only
included by them). A YAML case declares what it expects in leading comments, a JSON case in
a side-car file NAME.json.expect with the same lines:

    # expect: LINE:COL: message              (an error in the case file itself)
    # expect: inc/other.yaml:LINE:COL: msg   (in a file it includes, relative to it)
    # expect: --set:N:COL: message           (in the N-th --set override)
    # set: ID.PROP=VALUE                     (overrides to apply, in order)

`broken_cases(directory)` gives each case's path, the full expected first error line
`FILE:LINE:COL: message` (FILE spelled relative to how `path` is spelled), and overrides.
The CLI tests reuse it: `incore validate PATH --set ...` must print that line first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

BROKEN = Path(__file__).parent / "broken"
_SAME_FILE = re.compile(r"\d+:\d+: ")


@dataclass(frozen=True)
class BrokenCase:
    path: str
    expected: str
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def _header(path: Path) -> list[str]:
    side_car = path.with_name(path.name + ".expect")
    text = side_car.read_text("utf-8") if path.suffix == ".json" else path.read_text("utf-8")
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return lines


def broken_cases(directory: str | os.PathLike = BROKEN) -> list[BrokenCase]:
    """Every case of the corpus, with paths spelled as `directory` is."""
    cases = []
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if not os.path.isfile(path) or not entry.endswith((".yaml", ".json")):
            continue
        expect, overrides = None, []
        for line in _header(Path(path)):
            key, _, value = line.partition(":")
            if key == "expect":
                expect = value.strip()
            elif key == "set":
                overrides.append(value.strip())
        if expect is None:
            raise ValueError(f"{path}: no '# expect:' line")
        if _SAME_FILE.match(expect):
            expected = f"{path}:{expect}"
        elif expect.startswith("--set:"):
            expected = expect
        else:
            file, _, rest = expect.partition(":")
            expected = f"{os.path.normpath(os.path.join(os.path.dirname(path), file))}:{rest}"
        cases.append(BrokenCase(path, expected, tuple(overrides)))
    return cases
