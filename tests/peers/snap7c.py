"""Pytest-side handle on ``snap7c_driver.py`` running under python-snap7 2.x.

``INCORE_SNAP7C_PYTHON`` names the interpreter; by default the repository's
``.venv-snap7c/bin/python``.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("snap7c_driver.py")


def snap7c_python() -> str:
    return os.environ.get("INCORE_SNAP7C_PYTHON") or str(REPO / ".venv-snap7c" / "bin" / "python")


class PeerError(Exception):
    """A command failed in the driver; ``code`` is the snap7 error number when known."""

    def __init__(self, code: int | None, message: str) -> None:
        self.code = code
        super().__init__(f"{message} (code {code})")


class Snap7CPeer:
    """One driver subprocess (one Snap7 C client and/or server)."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [snap7c_python(), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")

    def call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(
                f"snap7c driver did not answer {op!r} within {self.timeout}s"
            ) from None
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"snap7c driver exited during {op!r}: {err}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise PeerError(answer.get("code"), answer["error"])
        return answer["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Snap7CPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
