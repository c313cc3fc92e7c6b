"""Replacing a file atomically: readers see the old content or the new, never a mix.

The text goes to a temporary file in the same directory (a rename is atomic only within one
file system), is flushed and fsynced, and then renamed over the target. A crash or power
loss at any point leaves either the old file or the complete new one.
"""

from __future__ import annotations

import glob
import os
import secrets
import stat


def write_atomically(path: str, text: str) -> None:
    """Replace `path` with `text` (UTF-8); raises OSError and leaves no temporary file."""
    path = os.path.abspath(path)
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f"{_temporary_prefix(name)}{secrets.token_hex(4)}.tmp")
    # 0o666 minus the umask, like any new file; an existing file keeps its permissions.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            existing = _existing_mode(path)
            if existing is not None:
                os.fchmod(f.fileno(), existing)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sync_directory(directory)


def remove_stale_temporaries(path: str) -> None:
    """Delete temporary files that a crashed writer of `path` left behind."""
    directory, name = os.path.split(os.path.abspath(path))
    pattern = os.path.join(glob.escape(directory), glob.escape(_temporary_prefix(name)) + "*.tmp")
    for leftover in glob.glob(pattern):  # a pattern starting with "." matches hidden files
        try:
            os.unlink(leftover)
        except OSError:
            pass


def _temporary_prefix(name: str) -> str:
    return f".{name}."  # hidden, and next to the file: a rename never crosses file systems


def _existing_mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); best effort where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
