"""Figures the applications save as PNG files (``--plots DIR``, ``--plot FILE``).

matplotlib is optional (the ``plots`` extra): it is imported only when a
command is asked for plots, and :func:`require` fails before any long work
when it is missing. Figures are bare :class:`matplotlib.figure.Figure`
objects, not pyplot's: no backend is switched, no GUI toolkit is imported,
and nothing stays open when drawing fails. Every file is written atomically,
like the applications' other outputs.
"""

from pathlib import Path

import numpy as np

from ._cli import atomic_path

__all__ = ["figure", "require", "save_confusion_matrix", "save_figure", "save_training_history"]


def require(option="--plots"):
    """Exit naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"error: {option} needs matplotlib, which is not installed: "
            "pip install 'sklstm[plots]' (or matplotlib)."
        ) from None


def figure(**kwargs):
    """A new figure with constrained layout, outside pyplot."""
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def save_figure(fig, path):
    """Write ``fig`` to ``path`` as PNG, atomically; returns the path."""
    with atomic_path(path) as tmp:
        # The temporary name does not end in .png: say the format.
        fig.savefig(tmp, format="png", dpi=100)
    return Path(path)


def save_confusion_matrix(path, matrix, labels, *, title=None):
    """Draw a confusion matrix (rows: true) with scikit-learn's display class.

    Returns the :class:`~sklearn.metrics.ConfusionMatrixDisplay` drawn.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(4.5, 0.55 * len(labels) + 2.0)
    fig = figure(figsize=(size, size))
    display = ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(labels))
    display.plot(ax=fig.subplots(), cmap="Blues", colorbar=False, values_format="d")
    display.ax_.set_title(title or "confusion matrix (rows: true, columns: predicted)")
    save_figure(fig, path)
    return display


def save_training_history(path, model):
    """Loss per epoch of the model's LSTM (:func:`sklstm.plotting.plot_training_history`)."""
    from sklstm.plotting import plot_training_history

    fig = figure(figsize=(6, 4))
    plot_training_history(model, ax=fig.subplots())
    return save_figure(fig, path)
