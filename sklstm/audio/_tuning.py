"""Thresholds per keyword for the posterior scan, chosen on recordings whose words are known.

Keyword spotters in the literature give each keyword its own rejection
threshold: some words are confused more often, or heard in noise less surely,
than others. :func:`tune_thresholds` picks them on held-out recordings by
coordinate ascent of the event F1 that :func:`~sklstm.audio.event_scores`
counts, from the classifier's posteriors computed once per recording.
"""

from collections.abc import Mapping
from numbers import Real

import numpy as np

from ._io import _check_rate, _check_waveform
from ._spot import (
    _check_scan,
    _class_thresholds,
    _matched_events,
    _pick_events,
    _scan_posteriors,
)

__all__ = ["tune_thresholds"]

#: Candidate thresholds :func:`tune_thresholds` tries by default.
DEFAULT_CANDIDATES = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def tune_thresholds(
    classifier,
    recordings,
    words,
    *,
    sr,
    background_label,
    candidates=DEFAULT_CANDIDATES,
    window=0.6,
    hop=0.1,
    smooth=3,
    min_gap=0.5,
):
    """Each keyword's threshold for :func:`scan_keywords`, chosen for event F1 on known words.

    The classifier reads each recording once. The best single threshold among
    ``candidates`` comes first; then each keyword's threshold in turn moves to
    the candidate that most raises the F1 of all events (events of different
    keywords interact: a peak suppresses weaker ones closer than ``min_gap``),
    twice over the keywords. A threshold moves only for a strictly higher F1.
    The thresholds are those of the posterior scan (:func:`scan_keywords`,
    :class:`KeywordStream`, ``KeywordSpotter(detector="posteriors")``), whose
    probabilities are smoothed over windows; they mean something else to the
    energy segments.

    Thresholds tuned on a few recordings fit their accidents: on recordings
    of FSDD's held-out takes in noise, thresholds tuned on 12 to 25 others in
    the same noise scored from 3.5 points lower to 0.8 points higher event F1
    than one threshold of 0.8 (docs/keyword_spotting.md). Tune on many
    recordings, in the conditions of use, and check on others.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba`` and ``classes_``
        As for :func:`scan_keywords`: a fitted :class:`KeywordSpotter` itself,
        for one, whose ``predict_proba`` reads each window as its
        :meth:`~KeywordSpotter.spot` does (at its ``test_speeds`` too).
    recordings : list of ndarray [shape=(n_i,)]
        Recordings at ``sr``.
    words : list of list of dict
        For each recording, ``{"start", "end", "label"}`` of every word said
        in it (seconds), as :func:`make_stream` returns them.
    sr : int
        Rate of the recordings, in Hz.
    background_label : object
        The class of silence and noise.
    candidates : sequence of float, default=(0.5, 0.55, ..., 0.95)
        Thresholds tried, probabilities.
    window : float, default=0.6
        Length of the scan's excerpts, in seconds (see :func:`scan_keywords`).
    hop : float, default=0.1
        Time between excerpts, in seconds.
    smooth : int, default=3
        Windows averaged.
    min_gap : float, default=0.5
        Two events start more than this apart, in seconds.

    Returns
    -------
    thresholds : dict
        ``{keyword: threshold}`` for every keyword of ``classifier.classes_``,
        to pass as ``threshold`` to :func:`scan_keywords`,
        :class:`KeywordStream` or :class:`KeywordSpotter`.

    See Also
    --------
    scan_keywords : The detector whose thresholds are tuned.
    event_scores : The F1 maximized.

    Examples
    --------
    >>> from sklstm.audio import make_stream, tune_thresholds
    >>> streams = [make_stream(clips, labels, sr=8000, snr_db=10)  # doctest: +SKIP
    ...            for clips, labels in held_out]
    >>> thresholds = tune_thresholds(  # doctest: +SKIP
    ...     spotter, [y for y, _ in streams], [w for _, w in streams],
    ...     sr=spotter.sr, background_label=spotter.background_label)
    >>> spotter.set_params(threshold=thresholds).spot(recording)  # doctest: +SKIP
    """
    sr = _check_rate(sr, "sr")
    width, step = _check_scan(sr=sr, window=window, hop=hop, smooth=smooth, min_gap=min_gap)
    candidates = _check_candidates(candidates)
    recordings = [_check_waveform(y) for y in recordings]
    if not recordings:
        raise ValueError("tune_thresholds needs at least one recording.")
    classes = np.asarray(classifier.classes_)
    keywords = np.flatnonzero(classes != background_label)
    if len(keywords) == 0:
        raise ValueError(f"the classifier has no class but the background {background_label!r}.")
    words = _check_words(words, len(recordings), [str(c) for c in classes[keywords]])
    scans = [
        (*_scan_posteriors(classifier, y, width=width, step=step, smooth=smooth), len(y))
        for y in recordings
    ]

    def f1(thresholds):
        tp = fp = fn = 0
        for (starts, proba, n_samples), truth in zip(scans, words):
            events = _pick_events(
                starts, proba, classes, background_label, thresholds,
                sr=sr, width=width, n_samples=n_samples, min_gap=min_gap,
            )  # fmt: skip
            hits = len(_matched_events(events, truth))
            tp, fp, fn = tp + hits, fp + len(events) - hits, fn + len(truth) - hits
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0

    # Candidates in decreasing order: of equal F1, the higher common threshold
    # (fewer false alarms in what the recordings did not hold) is the start; a
    # keyword's then moves only for a strictly higher F1.
    order = sorted(candidates, reverse=True)
    best_score, common = max(
        ((f1(_class_thresholds(c, classes, background_label)), c) for c in order),
        key=lambda pair: pair[0],
    )
    thresholds = _class_thresholds(common, classes, background_label)
    for _ in range(2):
        for k in keywords:
            for candidate in order:
                if candidate == thresholds[k]:
                    continue
                trial = thresholds.copy()
                trial[k] = candidate
                score = f1(trial)
                if score > best_score:
                    best_score, thresholds = score, trial
    return {str(classes[k]): float(thresholds[k]) for k in keywords}


def _check_candidates(candidates):
    values = list(candidates) if not isinstance(candidates, (str, Mapping)) else None
    if not values or any(
        isinstance(c, bool) or not isinstance(c, Real) or not 0 <= c <= 1 for c in values
    ):
        raise ValueError(
            f"candidates must be a non-empty sequence of probabilities, got {candidates!r}."
        )
    return [float(c) for c in values]


def _check_words(words, n_recordings, keywords):
    """The words of each recording, labels as the events name them (strings), checked."""
    words = list(words)
    if len(words) != n_recordings:
        raise ValueError(
            f"words must list the words of each of the {n_recordings} recordings, "
            f"got {len(words)} lists."
        )
    checked = []
    for i, truth in enumerate(words):
        for word in truth:
            if not isinstance(word, Mapping) or not {"start", "end", "label"} <= set(word):
                raise ValueError(
                    f"words[{i}] must hold dicts with 'start', 'end' and 'label', got {word!r}."
                )
            if str(word["label"]) not in keywords:
                # Such a word can never be found: every threshold would look alike.
                raise ValueError(
                    f"words[{i}] holds {word['label']!r}, which is not a keyword of the "
                    f"classifier ({', '.join(map(repr, keywords))})."
                )
        checked.append([{**word, "label": str(word["label"])} for word in truth])
    return checked
