"""Ending an `incore run` that a test started: SIGTERM, then its exit status and stderr.

A run that does not exit in time is killed, and the test fails with what it wrote to
stderr: after SHUTDOWN_REPORT_AFTER the runner logs where each of its threads is, so the
failure says what the shutdown waited for.
"""

from __future__ import annotations

import signal
import subprocess

import pytest


def stop(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """SIGTERM `proc` (started with stderr=PIPE, text=True); its exit status and stderr.
    Its stdout is left to the caller."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(
            f"incore run did not exit within {timeout:g} s of SIGTERM; it wrote to stderr:\n"
            + proc.stderr.read()
        )
    return code, proc.stderr.read()
