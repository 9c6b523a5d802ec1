"""Helpers shared by the command-line applications: atomic outputs and bad-file reports."""

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import sklstm
from sklstm.io import ModelFileError

__all__ = [
    "BadFiles",
    "atomic_path",
    "load_model",
    "save_model",
    "write_json",
    "write_text",
]


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    A crash or kill while writing leaves the previous file (or none) in place,
    never a half-written one. On error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_model(model, path):
    """Save a fitted model in sklstm's data-only format, atomically.

    ``model`` is made of sklstm/scikit-learn estimators and pipelines, dicts,
    lists, tuples, numbers, strings and numpy arrays (see :func:`sklstm.save`).
    """
    sklstm.save(model, path)


def load_model(path):
    """Load a model saved by :func:`save_model`; exit with a clear message if it can't."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"error: model file {path} does not exist (train one first).")
    try:
        return sklstm.load(path)
    except ModelFileError as exc:
        raise SystemExit(f"error: cannot load model {path}: {exc}") from None


class BadFiles:
    """Collects the files a command could not process, to report them at the end.

    Commands that handle many files process every good one, and call
    :meth:`exit_code` last: non-zero when any file was bad.
    """

    def __init__(self):
        self.failures = []

    def add(self, path, reason):
        self.failures.append((str(path), str(reason)))
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)

    def __bool__(self):
        return bool(self.failures)

    def report(self):
        if self.failures:
            print(f"{len(self.failures)} file(s) could not be processed:", file=sys.stderr)
            for path, reason in self.failures:
                print(f"  {path}: {reason}", file=sys.stderr)

    def exit_code(self):
        self.report()
        return 1 if self.failures else 0
