"""Keyword spotting in long recordings: speech segments proposed by energy, judged by a classifier.

Two stages, each doing what it is good at:

1. :func:`speech_segments` proposes the stretches that stand out of the
   recording's own noise floor (band energies of each frame against each
   band's floor, estimated from the quietest frames, smoothed, gaps shorter
   than a pause closed, short blips dropped, each segment padded so that weak
   consonants at its edges stay in).
   Segments longer than a word are split at their deepest energy dip.
2. :func:`spot_keywords` classifies each segment with a clip classifier trained
   with a *background* class (silence, noise) and keeps it as an event only if
   the top class is a keyword with probability at least ``threshold``: the
   rejection model. Noise bursts, breaths and non-keywords that the first stage
   lets through are rejected here, not by argmax over keywords alone.
"""

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from ._io import _check_rate, _check_waveform

__all__ = ["event_scores", "make_stream", "scan_keywords", "speech_segments", "spot_keywords"]

# Windows a scan classifies at a time (100 s of audio at the default hop).
_SCAN_BLOCK = 1000


def _frame_energy_db(y, frame, hop):
    """Mean power of each frame, in dB, from a cumulative sum (any recording length)."""
    if len(y) < frame:
        y = np.pad(y, (0, frame - len(y)))
    cumulative = np.concatenate([[0.0], np.cumsum(np.square(y, dtype=np.float64))])
    starts = np.arange(0, len(y) - frame + 1, hop)
    power = (cumulative[starts + frame] - cumulative[starts]) / frame
    return 10 * np.log10(np.maximum(power, 0) + 1e-12)


def _band_excess_db(y, sr, frame, hop, n_bands, top):
    """How far each frame stands above the noise floor in its loudest bands, in dB.

    Power spectra of the frames (Hann window) are summed into ``n_bands``
    bands spaced evenly on a log scale from 100 Hz to ``sr / 2``, smoothed over
    5 frames; each band's floor is its 10th percentile over the recording.
    A frame's excess is the mean of its ``top`` largest band excesses: speech
    concentrates its power in a few bands, which stand out of a broadband
    noise long before the frame's total power does.
    """
    if len(y) < frame:
        y = np.pad(y, (0, frame - len(y)))
    n_fft = 1 << int(np.ceil(np.log2(frame)))
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    edges = np.geomspace(100.0, sr / 2, n_bands + 1)
    # Each FFT bin's band, -1 outside 100 Hz to sr / 2 (summed into a dropped column).
    band_of_bin = np.searchsorted(edges, freqs, side="right") - 1
    band_of_bin[(freqs < edges[0]) | (band_of_bin >= n_bands)] = n_bands
    window = np.hanning(frame)
    starts = np.arange(0, len(y) - frame + 1, hop)
    db = np.empty((len(starts), n_bands))
    for first in range(0, len(starts), 4096):  # bounded temporaries on long recordings
        block = starts[first : first + 4096]
        frames = y[block[:, None] + np.arange(frame)].astype(np.float64) * window
        power = np.abs(np.fft.rfft(frames, n_fft)) ** 2
        bands = np.zeros((len(block), n_bands + 1))
        np.add.at(bands.T, band_of_bin, power.T)
        db[first : first + len(block)] = 10 * np.log10(bands[:, :n_bands] + 1e-12)
    # Over 50 ms; at the ends over the frames that exist (a padded 0 dB would be a level).
    db = _moving_average(db, 5)
    excess = db - np.percentile(db, 10, axis=0)
    return np.sort(excess, axis=1)[:, -top:].mean(axis=1)


def _runs(active):
    """Start and stop indices of the runs of True."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def speech_segments(
    y,
    *,
    sr,
    margin_db=8.0,
    range_db=50.0,
    min_pause=0.15,
    min_duration=0.08,
    max_duration=1.5,
    pad=0.15,
    bands=16,
):
    """Stretches of a recording that stand out of its noise floor.

    Frame energies (25 ms frames, 10 ms hop), per band (``bands``) or in
    total, are smoothed over 50 ms; the noise floor is their 10th percentile
    over the recording. A frame is active when it stands more than
    ``margin_db`` above the floor and its total energy is within ``range_db``
    of the loudest frames (99th percentile), so that digital silence does not
    make every breath a segment.

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The recording.
    sr : int
        Its rate, in Hz.
    margin_db : float, default=8.0
        How far above the noise floor speech must be, in dB.
    range_db : float, default=50.0
        How far below the loudest frames speech may be, in dB.
    min_pause : float, default=0.15
        Gaps shorter than this (seconds) do not split a segment: the closures
        of stop consonants inside a word.
    min_duration : float, default=0.08
        Shorter active stretches are dropped, in seconds.
    max_duration : float, default=1.5
        Longer segments are split at their deepest energy dip (recursively),
        in seconds.
    pad : float, default=0.15
        Seconds added at both ends of each segment (within the recording):
        context that keeps weak consonants in when noise hides them.
    bands : int or None, default=16
        Compare, band by band, the power in ``bands`` log-spaced bands from
        100 Hz to ``sr / 2`` with each band's own floor: a frame is active
        when its four most prominent bands stand on average ``margin_db``
        above their floors. Speech stands out of broadband noise in its own
        bands well before it does in total power: in white noise 10 dB below
        the speech, this found 206 of 250 words where total power found 160,
        for as few frames falsely active. None compares each frame's total
        power with the recording's floor instead (the detector of earlier
        versions, with ``margin_db=6``).

    Returns
    -------
    segments : ndarray of int64 [shape=(n_segments, 2)]
        Start and stop sample of each segment, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import speech_segments
    >>> rng = np.random.RandomState(0)
    >>> y = 0.001 * rng.randn(16000)
    >>> y[4000:6000] += np.sin(np.arange(2000) / 3)
    >>> speech_segments(y, sr=8000) / 8000
    array([[0.31 , 0.945]])
    """
    y = _check_waveform(y)
    sr = _check_rate(sr, "sr")
    if sr < 100:
        raise ValueError(f"sr={sr} Hz is too low for 10 ms frames: give the rate in Hz.")
    for name, value in [
        ("margin_db", margin_db),
        ("range_db", range_db),
        ("min_pause", min_pause),
        ("min_duration", min_duration),
        ("max_duration", max_duration),
        ("pad", pad),
    ]:
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < np.inf:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    if bands is not None and (isinstance(bands, bool) or not isinstance(bands, Integral)
                              or bands < 4):  # fmt: skip
        raise ValueError(f"bands must be None or an integer of at least 4, got {bands!r}.")
    if len(y) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    frame, hop = int(0.025 * sr), int(0.01 * sr)
    energy = _frame_energy_db(y, frame, hop)
    smooth = np.convolve(energy, np.ones(5) / 5, mode="same") if len(energy) >= 5 else energy
    floor, loud = np.percentile(smooth, [10, 99])
    if bands is None:
        stands_out = smooth > floor + margin_db
    else:
        stands_out = _band_excess_db(y, sr, frame, hop, bands, top=4) > margin_db
    active = stands_out & (smooth > loud - range_db)
    merged = []
    for a, b in zip(*_runs(active)):
        # A pause shorter than min_pause is a stop consonant's closure, not a word break.
        if merged and (a - merged[-1][1]) * 0.01 < min_pause:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    segments = []
    max_frames = int(round(max_duration / 0.01))
    min_frames = int(round(min_duration / 0.01))
    for a, b in merged:
        segments.extend(_split_long(smooth, a, b, max_frames, min_frames))
    result = []
    for a, b in segments:
        if b - a < min_frames:
            continue
        start = max(0, int(a * hop - pad * sr))
        stop = min(len(y), int(b * hop + frame + pad * sr))
        result.append((start, stop))
    return np.array(result, dtype=np.int64).reshape(-1, 2)


def _split_long(energy, start, stop, max_frames, min_frames):
    """Split ``[start, stop)`` at its deepest inner dip until parts fit ``max_frames``.

    No part is shorter than ``min_frames`` (at least one frame). A loop, not
    recursion: a long stretch of steady noise may split into very many parts.
    """
    edge = max(min_frames, 1)
    parts, todo = [], [(start, stop)]
    while todo:
        a, b = todo.pop()
        if b - a <= max_frames or b - a < 3 * edge:
            parts.append((a, b))
            continue
        cut = a + edge + int(np.argmin(energy[a + edge : b - edge]))
        todo += [(cut, b), (a, cut)]  # the earlier part next: parts stay in order
    return parts


def spot_keywords(
    classifier,
    y,
    *,
    sr,
    background_label,
    threshold=0.5,
    segment_params=None,
):
    """Find the keywords said in a recording of any length.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba`` and ``classes_``
        Takes a list of waveforms at ``sr`` (e.g. the Pipeline MFCC ->
        SequenceScaler -> LSTMClassifier), trained with a background class.
    y : ndarray [shape=(n,)]
        The recording, at ``sr``.
    sr : int
        Its rate, in Hz.
    background_label : object
        The class of silence and noise. Segments whose top class it is are
        rejected.
    threshold : float or dict, default=0.5
        Least probability of the top keyword for a segment to be an event: one
        for every keyword, or a dict that gives each keyword its own.
    segment_params : dict, default=None
        Keyword arguments of :func:`speech_segments`.

    Returns
    -------
    events : list of dict
        ``{"start": seconds, "end": seconds, "label": str, "score": float}``
        in order of time; empty when nothing but silence and noise is heard.
    """
    y = _check_waveform(y)
    classes = np.asarray(classifier.classes_)
    thresholds = _class_thresholds(threshold, classes, background_label)
    segments = speech_segments(y, sr=sr, **(segment_params or {}))
    if len(segments) == 0:
        return []
    proba = classifier.predict_proba([y[a:b] for a, b in segments])
    best = proba.argmax(axis=1)
    events = []
    for (a, b), k, p in zip(segments, best, proba):
        # In the probabilities' own precision, as a float threshold always was compared.
        if classes[k] == background_label or p[k] < p.dtype.type(thresholds[k]):
            continue
        events.append(
            {
                "start": round(a / sr, 3),
                "end": round(b / sr, 3),
                "label": str(classes[k]),
                "score": round(float(p[k]), 4),
            }
        )
    return events


def scan_keywords(
    classifier,
    y,
    *,
    sr,
    background_label,
    threshold=0.8,
    window=0.6,
    hop=0.1,
    smooth=3,
    min_gap=0.5,
    return_posteriors=False,
):
    """Find keywords from the classifier's own evidence over time (posterior handling).

    The classifier reads a ``window``-long excerpt every ``hop`` seconds; each
    keyword's probability over time is smoothed (a moving average over
    ``smooth`` windows), and an event is a local maximum of the most probable
    keyword at least ``threshold`` high. Of events closer than ``min_gap``
    seconds, the most probable is kept. No energy threshold decides what the
    classifier hears: words that hardly stand out of the noise are still
    judged, and noise that does is rejected by the background class.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba`` and ``classes_``
        Takes a list of waveforms at ``sr``, trained with a background class.
    y : ndarray [shape=(n,)]
        The recording, at ``sr``.
    sr : int
        Its rate, in Hz.
    background_label : object
        The class of silence and noise.
    threshold : float or dict, default=0.8
        Least smoothed probability of a keyword for an event, which must also
        be more probable than the background: one for every keyword, or a dict
        that gives each keyword its own (e.g. from :func:`tune_thresholds`).
    window : float, default=0.6
        Length of the excerpts, in seconds (FSDD's words last 0.3-0.8 s).
    hop : float, default=0.1
        Time between excerpts, in seconds.
    smooth : int, default=3
        Windows averaged (1: no smoothing).
    min_gap : float, default=0.5
        Two events start more than this apart, in seconds (at the default
        hop, windows 0.6 s apart and more). Of closer peaks, the most
        probable is kept: a word a little longer than the window otherwise
        peaks twice.
    return_posteriors : bool, default=False
        Also return the start time of each window and the smoothed
        probabilities.

    Returns
    -------
    events : list of dict
        ``{"start", "end", "label", "score"}`` in order of time: the window of
        each peak.
    times : ndarray of shape (n_windows,)
        Start of each window in seconds (only with ``return_posteriors``).
    posteriors : ndarray of shape (n_windows, n_classes)
        Smoothed probabilities, columns in ``classifier.classes_`` order (only
        with ``return_posteriors``).
    """
    y = _check_waveform(y)
    sr = _check_rate(sr, "sr")
    width, step = _check_scan(sr=sr, window=window, hop=hop, smooth=smooth, min_gap=min_gap)
    classes = np.asarray(classifier.classes_)
    thresholds = _class_thresholds(threshold, classes, background_label)
    starts, proba = _scan_posteriors(classifier, y, width=width, step=step, smooth=smooth)
    events = _pick_events(
        starts, proba, classes, background_label, thresholds,
        sr=sr, width=width, n_samples=len(y), min_gap=min_gap,
    )  # fmt: skip
    return (events, starts / sr, proba) if return_posteriors else events


def _scan_posteriors(classifier, y, *, width, step, smooth):
    """Start (in samples) of each window of a scan, and its smoothed probabilities."""
    n_classes = len(classifier.classes_)
    if len(y) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, n_classes))
    starts = np.arange(0, max(1, len(y) - width + step), step)
    starts = starts[(starts == 0) | (starts + width <= len(y))]
    # Windows are views of the recording, but a classifier may copy them (features,
    # resampled copies): a block at a time bounds that for hours of audio.
    proba = np.concatenate([
        np.asarray(classifier.predict_proba([y[s : s + width] for s in block]))
        for block in np.split(starts, range(_SCAN_BLOCK, len(starts), _SCAN_BLOCK))
    ])  # fmt: skip
    return starts, _moving_average(proba, smooth)


def _pick_events(
    starts, proba, classes, background_label, thresholds, *, sr, width, n_samples, min_gap
):
    """The events of a scan: peaks of the best keyword over its threshold, far enough apart.

    ``width`` (of a window, in samples) and ``n_samples`` (of the recording) place
    the events in time; of peaks closer than ``min_gap`` seconds, the most
    probable is kept.
    """
    if len(starts) == 0:
        return []
    best, label, background = _keyword_evidence(proba, classes, background_label)
    # In the probabilities' own precision, as a float threshold always was compared.
    is_peak = (best >= thresholds[label].astype(best.dtype)) & (best > background)
    is_peak[1:] &= best[1:] >= best[:-1]
    is_peak[:-1] &= best[:-1] > best[1:]
    kept = []
    for i in sorted(np.flatnonzero(is_peak), key=lambda i: -best[i]):
        if all(abs(int(starts[i]) - int(starts[j])) > min_gap * sr for j in kept):
            kept.append(i)
    return [
        {
            "start": round(starts[i] / sr, 3),
            "end": round(min(starts[i] + width, n_samples) / sr, 3),
            "label": str(classes[label[i]]),
            "score": round(float(best[i]), 4),
        }
        for i in sorted(kept)
    ]


def _keyword_thresholds(threshold, classes, background_label):
    """``{keyword: threshold}`` for every keyword, in the order of ``classes``."""
    resolved = _class_thresholds(threshold, classes, background_label)
    return {str(c): float(t) for c, t in zip(classes, resolved) if c != background_label}


def _class_thresholds(threshold, classes, background_label):
    """Each class's least probability for an event, from one threshold or a dict of them.

    Parameters
    ----------
    threshold : float or dict
        A probability for every keyword, or a dict ``{keyword: probability}``
        naming every keyword (keys compared as strings, as events name them).
    classes : ndarray of shape (n_classes,)
        The classifier's classes.
    background_label : object
        The class that is no keyword (its threshold is never read).

    Returns
    -------
    thresholds : ndarray of float64 of shape (n_classes,)
        In the order of ``classes``; 1.0 for the background.
    """
    classes = np.asarray(classes)
    keywords = [str(c) for c in classes if c != background_label]
    if isinstance(threshold, Mapping):
        given = {str(key): value for key, value in threshold.items()}
        if len(given) < len(threshold):
            raise ValueError(
                f"threshold names a keyword twice (keys are read as strings): {threshold!r}."
            )
        unknown = sorted(set(given) - set(keywords))
        missing = [k for k in keywords if k not in given]
        problems = [f"not keywords: {', '.join(map(repr, unknown))}"] if unknown else []
        problems += [f"missing: {', '.join(map(repr, missing))}"] if missing else []
        if problems:
            raise ValueError(
                f"threshold as a dict must give one probability per keyword "
                f"({', '.join(map(repr, keywords))}); {'; '.join(problems)}."
            )
        values = [given.get(str(c), 1.0) for c in classes]
    else:
        values = [threshold] * len(classes)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
            raise ValueError(
                f"threshold must be a probability or a dict of them, got {threshold!r}."
            )
    thresholds = np.asarray(values, dtype=np.float64)
    thresholds[classes == background_label] = 1.0
    return thresholds


def _matched_events(events, truth):
    """The ``(event, word)`` pairs that :func:`event_scores` counts as true positives."""
    matched, pairs = set(), []
    for event in sorted(events, key=lambda e: e["start"]):
        for j, word in enumerate(truth):
            if (
                j not in matched
                and word["label"] == event["label"]
                and event["start"] < word["end"]
                and event["end"] > word["start"]
            ):
                matched.add(j)
                pairs.append((event, word))
                break
    return pairs


def _check_scan(*, sr, window, hop, smooth, min_gap):
    """Validate the settings of a posterior scan; its window and hop in samples."""
    for name, value in [("window", window), ("hop", hop), ("min_gap", min_gap)]:
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < np.inf:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    if window * sr < 1 or hop * sr < 1:
        raise ValueError(f"window={window} s and hop={hop} s must each span a sample at {sr} Hz.")
    if isinstance(smooth, bool) or not isinstance(smooth, Integral) or smooth < 1:
        raise ValueError(f"smooth must be a positive integer, got {smooth!r}.")
    return int(round(window * sr)), int(round(hop * sr))


def _keyword_evidence(proba, classes, background_label):
    """Per row of ``proba``: the best keyword's probability, its column, the background's."""
    keywords = np.flatnonzero(classes != background_label)
    best = proba[:, keywords].max(axis=1)
    label = keywords[proba[:, keywords].argmax(axis=1)]
    # A keyword, not the background, must be the most probable class.
    background = proba[:, classes == background_label].max(axis=1, initial=0.0)
    return best, label, background


def _moving_average(rows, width):
    """Mean of each row with its neighbours, ``width`` rows centred on it.

    At the ends, over the rows that exist: no zeros (or anything else) padded in,
    and as many rows out as in, whatever ``width``.
    """
    if width <= 1 or len(rows) <= 1:
        return rows
    before = (width - 1) // 2
    cumulative = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(rows, axis=0)])
    index = np.arange(len(rows))
    low = np.maximum(index - before, 0)
    high = np.minimum(index - before + width, len(rows))
    return (cumulative[high] - cumulative[low]) / (high - low)[:, None]


def make_stream(clips, labels, *, sr, pause=(0.3, 1.5), snr_db=None, random_state=None):
    """A test recording: clips separated by random pauses, optionally in white noise.

    Parameters
    ----------
    clips : list of ndarray [shape=(n_i,)]
        Words, at ``sr``.
    labels : list of str
        Their labels.
    sr : int
        Sampling rate, in Hz.
    pause : tuple of (float, float), default=(0.3, 1.5)
        Range of the silences before, between and after the clips, in seconds
        (uniform).
    snr_db : float, default=None
        White noise over the whole recording, at this ratio of the clips'
        mean power to the noise's, in dB. None leaves the pauses silent.
    random_state : int, RandomState instance or None, default=None
        Draws the pauses and the noise.

    Returns
    -------
    y : ndarray of float32 [shape=(n,)]
        The recording.
    truth : list of dict
        ``{"start": seconds, "end": seconds, "label": str}`` of every clip.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import make_stream
    >>> y, truth = make_stream([np.ones(800)] * 2, ["a", "b"], sr=8000, pause=(0.5, 0.5))
    >>> len(y) / 8000, truth[1]
    (1.7, {'start': 1.1, 'end': 1.2, 'label': 'b'})
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    parts, truth, t = [], [], 0
    for clip, label in zip(clips, labels):
        silence = np.zeros(int(round(rng.uniform(*pause) * sr)), dtype=np.float32)
        parts += [silence, np.asarray(clip, dtype=np.float32)]
        t += len(silence)
        truth.append({"start": t / sr, "end": (t + len(clip)) / sr, "label": str(label)})
        t += len(clip)
    parts.append(np.zeros(int(round(rng.uniform(*pause) * sr)), dtype=np.float32))
    y = np.concatenate(parts)
    if snr_db is not None:
        power = np.mean(np.square(np.concatenate(parts[1::2]), dtype=np.float64))
        y = y + rng.standard_normal(len(y)) * np.sqrt(power / 10 ** (snr_db / 10))
    return y.astype(np.float32), truth


def event_scores(events, truth):
    """Precision, recall and F1 of spotted events against the words said.

    An event is a true positive when its label matches a word it overlaps in
    time; each word matches at most one event (events in order of time).

    Parameters
    ----------
    events : list of dict
        ``{"start", "end", "label", ...}``, as :func:`spot_keywords` returns.
    truth : list of dict
        ``{"start", "end", "label"}`` of the words said.

    Returns
    -------
    scores : dict
        ``precision``, ``recall``, ``f1`` (1.0 when there is nothing to find
        and nothing found), and the counts ``tp``, ``fp``, ``fn``.

    Examples
    --------
    >>> from sklstm.audio import event_scores
    >>> truth = [{"start": 1.0, "end": 1.5, "label": "go"}]
    >>> event_scores([{"start": 1.2, "end": 1.9, "label": "go"}], truth)["f1"]
    1.0
    """
    tp = len(_matched_events(events, truth))
    fp, fn = len(events) - tp, len(truth) - tp
    return {
        "precision": tp / len(events) if events else 1.0,
        "recall": tp / len(truth) if truth else 1.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }
