"""Helpers shared by the command-line applications: atomic outputs, bad-file reports, Ctrl-C."""

import json
import signal
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import sklstm
from sklstm._atomic import atomic_path
from sklstm.io import ModelFileError

from ._startup import INTERRUPTED

__all__ = [
    "INTERRUPTED",
    "BadFiles",
    "TrainingInterrupted",
    "interruptible",
    "atomic_path",
    "load_model",
    "save_model",
    "write_json",
    "write_text",
]


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_model(model, path):
    """Save a fitted model in sklstm's data-only format, atomically and reproducibly.

    ``model`` is made of sklstm/scikit-learn estimators and pipelines, dicts,
    lists, tuples, numbers, strings and numpy arrays (see :func:`sklstm.save`).
    """
    sklstm.save(model, path)


def load_model(path, *, kind, keys, estimator=None):
    """Load a model saved by :func:`save_model`; exit with a clear message if it can't.

    The applications save a dict; one without all of ``keys`` is another
    application's model (or no application's), refused as not a ``kind`` model.
    A file holding just an instance of ``estimator`` (the application's model,
    saved from Python with ``sklstm.save``) is returned as it is.
    """
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"error: model file {path} does not exist (train one first).")
    try:
        model = sklstm.load(path)
    except ModelFileError as exc:
        raise SystemExit(f"error: cannot load model {path}: {exc}") from None
    if estimator is not None and isinstance(model, estimator):
        return model
    if not isinstance(model, dict) or not set(keys) <= set(model):
        raise SystemExit(f"error: {path} is not a {kind} model.")
    return model


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


class TrainingInterrupted(Exception):
    """Ctrl-C during a grid search (skorch ends a fit on KeyboardInterrupt, not a search)."""


@contextmanager
def interruptible(exception=KeyboardInterrupt):
    """Note whether Ctrl-C arrives in the block, raising ``exception`` when it does.

    A KeyboardInterrupt during ``fit`` ends training with the model trained so
    far (and a warning); the flag tells the caller that from a fit that ran
    its course. Outside the main thread, where signals cannot be caught, the
    block runs as it is.
    """
    state = {"interrupted": False}

    def handler(signum, frame):
        state["interrupted"] = True
        raise exception

    previous, installed = None, False
    try:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # (not a background job)
            previous, installed = signal.signal(signal.SIGINT, handler), True
    except ValueError:  # not the main thread
        pass
    try:
        with warnings.catch_warnings():
            # The caller reports the interruption, with what it saved.
            warnings.filterwarnings("ignore", "Training was interrupted", UserWarning)
            yield state
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
