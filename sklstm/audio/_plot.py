"""A recording drawn with the keywords spotted in it (matplotlib, an optional dependency)."""

import numpy as np

from .._matplotlib import pyplot

__all__ = ["plot_keywords"]

# Beyond this many samples the waveform is drawn as its per-column envelope: a
# line through millions of points takes seconds to render and shows no more.
_MAX_POINTS = 20_000
# Most columns of the spectrogram: an hour-long recording stays a small image.
_MAX_COLUMNS = 4_000


def _envelope(y, sr):
    """Times and the min/max of ``y`` over short columns, drawn as one filled band."""
    per_column = -(-len(y) // (_MAX_POINTS // 2))
    n = len(y) // per_column * per_column
    blocks = y[:n].reshape(-1, per_column)
    t = (np.arange(len(blocks)) + 0.5) * per_column / sr
    return t, blocks.min(axis=1), blocks.max(axis=1)


def _spectrogram_db(y, sr, n_fft):
    """Power spectrogram in dB (Hann window), hop chosen to give at most _MAX_COLUMNS."""
    hop = max(n_fft // 4, -(-len(y) // _MAX_COLUMNS))
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
    db = 10 * np.log10(np.maximum(power, 1e-12))
    return np.maximum(db, db.max() - 80.0).T, hop


def plot_keywords(y, *, sr, events, reference=None, kind="both", n_fft=256, axes=None, title=None):
    """Draw a recording's waveform and/or spectrogram with the spotted keywords marked.

    Each event is a shaded span labelled with its keyword and score; words of
    a ``reference`` transcript, when given, are drawn as brackets below the
    waveform (green when an event with their label overlaps them, red when
    missed), so that misses and false alarms show at a glance.

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The recording.
    sr : int
        Its rate, in Hz.
    events : list of dict
        ``{"start", "end", "label", "score"}`` in seconds, as
        :func:`~sklstm.audio.spot_keywords` returns.
    reference : list of dict, default=None
        ``{"start", "end", "label"}`` of the words actually said.
    kind : {"both", "waveform", "spectrogram"}, default="both"
        What to draw: one panel each.
    n_fft : int, default=256
        FFT length of the spectrogram, in samples.
    axes : list of matplotlib.axes.Axes, default=None
        One per panel; a new figure when None.
    title : str, default=None
        Title of the first panel.

    Returns
    -------
    axes : list of matplotlib.axes.Axes
        The waveform panel first, if drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklstm.audio import plot_keywords
    >>> y = np.zeros(16000, dtype=np.float32)
    >>> y[4000:6000] = np.sin(np.arange(2000) / 3)
    >>> events = [{"start": 0.5, "end": 0.75, "label": "go", "score": 0.97}]
    >>> axes = plot_keywords(y, sr=8000, events=events)
    >>> [t.get_text() for t in axes[0].texts]
    ['go 0.97']
    """
    if kind not in ("both", "waveform", "spectrogram"):
        raise ValueError(f"kind must be 'both', 'waveform' or 'spectrogram', got {kind!r}.")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y must be a non-empty 1D waveform, got shape {y.shape}.")
    plt = pyplot()
    panels = ["waveform", "spectrogram"] if kind == "both" else [kind]
    if axes is None:
        _, axes = plt.subplots(
            len(panels),
            1,
            figsize=(max(6.0, min(16.0, len(y) / sr)), 2.6 * len(panels)),
            sharex=True,
            squeeze=False,
        )
        axes = list(axes[:, 0])
    if len(axes) != len(panels):
        raise ValueError(f"kind={kind!r} draws {len(panels)} panel(s); got {len(axes)} axes.")
    duration = len(y) / sr
    for ax, panel in zip(axes, panels):
        if panel == "waveform":
            if len(y) > _MAX_POINTS:
                t, low, high = _envelope(y, sr)
                ax.fill_between(t, low, high, color="0.3", lw=0)
            else:
                ax.plot(np.arange(len(y)) / sr, y, color="0.3", lw=0.6)
            peak = float(np.max(np.abs(y))) or 1.0
            ax.set_ylim(-1.15 * peak, 1.15 * peak)
            ax.set_ylabel("amplitude")
        else:
            db, hop = _spectrogram_db(y, sr, n_fft)
            ax.imshow(
                db,
                origin="lower",
                aspect="auto",
                cmap="magma",
                extent=(0, db.shape[1] * hop / sr, 0, sr / 2),
            )
            ax.set_ylabel("frequency (Hz)")
        for event in events:
            ax.axvspan(event["start"], event["end"], color="C0", alpha=0.25, lw=0)
        ax.set_xlim(0, duration)
    top = axes[0]
    for event in events:
        score = f" {event['score']:.2f}" if "score" in event else ""
        top.text(
            (event["start"] + event["end"]) / 2,
            0.97,
            f"{event['label']}{score}",
            transform=top.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="C0",
        )
    if reference is not None:
        for word in reference:
            found = any(
                e["label"] == word["label"]
                and e["start"] < word["end"]
                and e["end"] > word["start"]
                for e in events
            )
            color = "C2" if found else "C3"
            top.annotate(
                "",
                xy=(word["start"], 0.04),
                xytext=(word["end"], 0.04),
                xycoords=top.get_xaxis_transform(),
                arrowprops={"arrowstyle": "|-|", "color": color, "lw": 1},
            )
            top.text(
                (word["start"] + word["end"]) / 2,
                0.07,
                str(word["label"]),
                transform=top.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
                color=color,
            )
    axes[-1].set_xlabel("time (s)")
    if title:
        top.set_title(title)
    return axes
