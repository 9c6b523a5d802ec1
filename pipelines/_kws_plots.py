"""The keyword-spotting application's figures, saved as PNG files (``--plots DIR``).

matplotlib is optional (the ``plots`` extra): it is imported only when a
command is asked for plots, and :func:`require` fails before any long work
when it is missing. Every file is written atomically (a temporary file beside
it, then a rename), like the application's other outputs.
"""

import os
from pathlib import Path

from ._cli import atomic_path

__all__ = ["require", "save_confusion_matrix", "save_spotting", "save_training_history"]


def require():
    """Import matplotlib with a non-interactive backend, or exit naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(
            "error: --plots needs matplotlib, which is not installed: "
            "pip install 'sklstm[plots]' (or matplotlib)."
        ) from None
    # Files only: no display needed, and no GUI toolkit gets imported.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = require()
    with atomic_path(path) as tmp:
        # The temporary name does not end in .png: say the format.
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        # The temporary file was created private (0600); the figure is not.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    plt.close(fig)
    return Path(path)


def save_confusion_matrix(matrix, labels, path, *, title=None):
    """Draw the evaluation's confusion matrix with scikit-learn's display class.

    Parameters
    ----------
    matrix : array-like of int [shape=(n_labels, n_labels)]
        Rows: true labels, columns: predicted labels, as ``evaluate`` reports it.
    labels : list of str
        The order of both.
    path : path-like
        The PNG file to write.
    title : str, default=None

    Returns
    -------
    display : sklearn.metrics.ConfusionMatrixDisplay
        What was drawn (its ``text_`` holds the numbers shown).
    """
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = require()
    size = max(4.0, 0.55 * len(labels) + 2.0)
    fig, ax = plt.subplots(figsize=(size, size))
    display = ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(labels))
    display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    ax.set_title(title or "confusion matrix (rows: true, columns: predicted)")
    _save(fig, path)
    return display


def save_training_history(pipeline, path):
    """Training loss per epoch of the pipeline's LSTMClassifier (``plot_training_history``)."""
    from sklstm.plotting import plot_training_history

    plt = require()
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_training_history(pipeline, ax=ax)
    return _save(fig, path)


def save_spotting(y, sr, events, path, *, reference=None, title=None):
    """The recording's waveform and spectrogram with the spotted words (``plot_keywords``)."""
    from sklstm.audio import plot_keywords

    require()
    axes = plot_keywords(y, sr=sr, events=events, reference=reference, title=title)
    return _save(axes[0].figure, path)
