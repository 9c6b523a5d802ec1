"""Ctrl-C at a chosen step: a real SIGINT sent to this process there, not from a timer.

Python runs the SIGINT handler at the next bytecode after ``os.kill`` returns,
so the interruption takes the path a person's Ctrl-C takes, at a known moment.
"""

import os
import signal
from pathlib import Path

from skorch.callbacks import Callback

from sklstm import _atomic


def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


class CtrlCAt(Callback):
    """Press Ctrl-C once at ``hook`` of epoch ``epoch`` (0: before the first one).

    ``hook`` is one of ``"train_begin"``, ``"epoch_begin"``, ``"batch_begin"``
    (a training batch), ``"epoch_end"`` or ``"train_end"``.
    """

    def __init__(self, hook, epoch):
        self.hook = hook
        self.epoch = epoch
        self.pressed_ = False

    def _maybe(self, hook, net):
        if hook == self.hook and len(net.history) == self.epoch and not self.pressed_:
            self.pressed_ = True
            ctrl_c()

    def on_train_begin(self, net, **kwargs):
        self._maybe("train_begin", net)

    def on_epoch_begin(self, net, **kwargs):
        self._maybe("epoch_begin", net)

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self._maybe("batch_begin", net)

    def on_epoch_end(self, net, **kwargs):
        self._maybe("epoch_end", net)

    def on_train_end(self, net, **kwargs):
        self._maybe("train_end", net)


def ctrl_c_at_write(monkeypatch, suffix, nth=1):
    """Press Ctrl-C while the ``nth`` atomic write of a ``*suffix`` file is being finished.

    The temporary file is written and synced; the Ctrl-C comes just before it
    would replace the destination. Returns a dict whose ``"writes"`` counts the
    writes so far; setting ``"nth"`` to None disarms it.
    """
    state = {"writes": 0, "nth": nth}
    original = _atomic.os.replace

    def replace(src, dst):
        if Path(dst).suffix == suffix:
            state["writes"] += 1
            if state["writes"] == state["nth"]:
                ctrl_c()
        return original(src, dst)

    monkeypatch.setattr(_atomic.os, "replace", replace)
    return state
