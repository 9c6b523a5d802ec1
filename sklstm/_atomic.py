"""Atomic file outputs: a finished file or the previous one, never half of one."""

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path"]


@contextmanager
def atomic_path(path):
    """Yield a new temporary path beside ``path``; move it onto ``path`` on success.

    The temporary file is created empty with the mode a plain ``open`` gives
    (the process's umask applies), under a unique name, so that concurrent
    writers of one path never write into each other's file. What the block
    wrote is flushed to disk before the rename; a crash or kill while writing
    leaves the previous file (or none) in place, and on error the temporary
    file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
