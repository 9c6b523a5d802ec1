"""The keyword-spotting figure of a recording (``spot --plots DIR``)."""

from . import _plots

__all__ = ["save_spotting"]


def save_spotting(y, sr, events, path, *, reference=None, title=None):
    """The recording's waveform and spectrogram with the spotted words (``plot_keywords``)."""
    from sklstm.audio import plot_keywords

    fig = _plots.figure(figsize=(max(6.0, min(16.0, len(y) / sr)), 5.2))
    axes = fig.subplots(2, 1, sharex=True)
    plot_keywords(y, sr=sr, events=events, reference=reference, title=title, axes=list(axes))
    return _plots.save_figure(fig, path)
