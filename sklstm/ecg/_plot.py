"""ECG strips with each beat's class marked (matplotlib, an optional dependency)."""

import numpy as np

from .._matplotlib import pyplot

__all__ = ["plot_ecg_strip"]

# One colour per AAMI class, so that ectopic beats stand out of a strip of N.
_COLORS = {"N": "0.35", "S": "tab:blue", "V": "tab:red", "F": "tab:orange", "Q": "tab:purple"}


def plot_ecg_strip(
    signal, *, fs, samples, predicted, reference=None, start=0, ax=None, title=None
):
    """Draw a stretch of ECG with each beat's predicted (and reference) class.

    Each beat whose R peak falls in the stretch gets its predicted AAMI class
    written above the trace and, with ``reference``, the reference class on a
    second row; a beat whose two classes differ is marked with a red band.

    Parameters
    ----------
    signal : array-like of shape (n_samples,)
        The stretch of one lead to draw (e.g. filtered, in mV).
    fs : float
        Sampling frequency in Hz.
    samples : array-like of int of shape (n_beats,)
        R-peak sample of each beat, counted from the start of the record;
        beats outside the stretch are left out.
    predicted : array-like of str of shape (n_beats,)
        Predicted class of each beat.
    reference : array-like of str of shape (n_beats,), default=None
        Reference class of each beat (``""`` for a beat without one, e.g. a
        detection that matches no reference beat); None draws one row.
    start : int, default=0
        Record sample at which ``signal`` begins: the time axis is the
        record's, in seconds.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on; ``ax.texts`` holds one text per class mark, with
        the beat's R-peak time as its x position.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklstm.ecg import plot_ecg_strip
    >>> x = np.zeros(720)
    >>> x[[100, 400]] = 1.0
    >>> ax = plot_ecg_strip(x, fs=360, samples=[100, 400], predicted=["N", "V"],
    ...                     reference=["N", "N"])
    >>> [t.get_text() for t in ax.texts if t.get_text() in "NSVFQ"]
    ['N', 'N', 'V', 'N']
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1 or len(signal) == 0:
        raise ValueError(f"signal must be a non-empty stretch of one lead, got {signal.shape}.")
    if not np.isfinite(signal).all():
        raise ValueError("signal contains NaN or infinity.")
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a positive number, got {fs!r}.")
    samples = np.asarray(samples).reshape(-1)
    predicted = np.asarray(predicted, dtype=str).reshape(-1)
    if len(predicted) != len(samples):
        raise ValueError(f"{len(samples)} beat samples but {len(predicted)} predicted classes.")
    if reference is not None:
        reference = np.asarray(reference, dtype=str).reshape(-1)
        if len(reference) != len(samples):
            raise ValueError(
                f"{len(samples)} beat samples but {len(reference)} reference classes."
            )
    if ax is None:
        _, ax = pyplot().subplots(figsize=(12, 3.5))
    t = (start + np.arange(len(signal))) / fs
    ax.plot(t, signal, color="black", lw=0.8)
    low, high = float(signal.min()), float(signal.max())
    span = high - low or 1.0
    rows = [("predicted", predicted)]
    if reference is not None:
        rows.append(("reference", reference))
    y_rows = [high + 0.15 * span * (k + 1) for k in range(len(rows))]
    inside = np.flatnonzero((samples >= start) & (samples < start + len(signal)))
    for i in inside:
        when = samples[i] / fs
        if reference is not None and reference[i] and reference[i] != predicted[i]:
            ax.axvspan(when - 0.1, when + 0.1, color="tab:red", alpha=0.15, lw=0)
        for (_, labels), y in zip(rows, y_rows):
            label = labels[i] or "-"
            ax.text(
                when,
                y,
                label,
                ha="center",
                va="center",
                fontsize=9,
                fontweight="bold",
                color=_COLORS.get(label, "0.6"),
            )
    for (name, _), y in zip(rows, y_rows):
        ax.text(t[0], y, f"{name} ", ha="right", va="center", fontsize=8, color="0.3")
    ax.set_xlim(t[0], t[-1] + 1 / fs)
    ax.set_ylim(low - 0.1 * span, y_rows[-1] + 0.15 * span)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ECG")
    if title is not None:
        ax.set_title(title)
    return ax


def busiest_window(samples, predicted, reference=None, *, fs, n_samples, seconds=10.0):
    """The start sample of the ``seconds``-long stretch worth showing.

    The stretch with the most disagreements between ``predicted`` and
    ``reference``; among equals (and without a reference), the most beats
    that are not N; then the earliest.
    """
    samples = np.asarray(samples, dtype=np.int64)
    length = int(round(seconds * fs))
    if len(samples) == 0 or n_samples <= length:
        return 0
    predicted = np.asarray(predicted, dtype=str)
    score = (predicted != "N").astype(np.int64)
    if reference is not None:
        reference = np.asarray(reference, dtype=str)
        score += 1000 * ((reference != "") & (reference != predicted))
        score += reference != "N"
    # Windows starting one second before each beat, kept inside the record.
    starts = np.clip(samples - int(fs), 0, n_samples - length)
    ends = np.searchsorted(samples, starts + length)
    firsts = np.searchsorted(samples, starts)
    total = np.concatenate([[0], np.cumsum(score)])
    best = int(np.argmax(total[ends] - total[firsts]))
    return int(starts[best])
