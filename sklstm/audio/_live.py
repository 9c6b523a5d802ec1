"""Keyword spotting on audio that arrives a chunk at a time (a microphone, a pipe).

:class:`KeywordStream` runs :func:`~sklstm.audio.scan_keywords` incrementally:
each chunk adds the windows it completes, and every event is reported as soon
as nothing that is still to come can change it. Its events are the ones the
offline scan finds on the whole recording, only earlier: the same windows, the
same smoothing (the same running sums, so the same floating-point values as
long as the classifier gives a window the same probabilities whatever batch it
is in; a neural network may differ in the 7th digit) and the same rule between
close peaks (of peaks closer than ``min_gap``, the most probable is kept),
decided in the same way.

The price of that exactness is a delay after each window: the smoothing needs
the next ``smooth // 2`` windows, recognising a peak needs the window after it,
and a peak may still lose to a more probable one up to ``min_gap`` later. At the
defaults (0.6 s windows every 0.1 s, smoothing over 3, ``min_gap=0.5``), an
event is decided 0.7 s of audio after its window ends, or later when a chain of
close, ever more probable peaks keeps it open.
"""

from bisect import bisect_left, bisect_right

import numpy as np

from ._io import _check_rate, _check_waveform
from ._spot import _check_scan, _class_thresholds, _keyword_evidence

__all__ = ["KeywordStream"]

_KEPT, _DROPPED, _PENDING = "kept", "dropped", "pending"


class KeywordStream:
    """The events of :func:`~sklstm.audio.scan_keywords`, found while the audio arrives.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba`` and ``classes_``
        Takes a list of waveforms at ``sr``, trained with a background class
        (a fitted :class:`~sklstm.audio.KeywordSpotter` itself, for one, which
        reads each window as its ``spot`` does).
    sr : int
        Rate of the audio, in Hz.
    background_label : object
        The class of silence and noise.
    threshold : float or dict, default=0.8
        Least smoothed probability of a keyword for an event, which must also
        be more probable than the background: one for every keyword, or a dict
        that gives each keyword its own.
    window : float, default=0.6
        Length of the excerpts the classifier reads, in seconds.
    hop : float, default=0.1
        Time between excerpts, in seconds (longer than ``window`` skips the
        audio between them, as :func:`scan_keywords` does).
    smooth : int, default=3
        Windows averaged.
    min_gap : float, default=0.5
        Two events start more than this apart, in seconds.

    Attributes
    ----------
    n_samples_ : int
        Samples received since the last :meth:`reset`.
    n_windows_ : int
        Windows classified since the last :meth:`reset`.

    See Also
    --------
    scan_keywords : The same scan over a whole recording.
    KeywordSpotter.stream : This stream for a fitted spotter.

    Notes
    -----
    Memory stays bounded however long the stream: only the samples of the next
    window, the running sums of the last few windows and the peaks that are
    still undecided are kept. (A peak stays undecided while a more probable
    one may follow within ``min_gap``: a chain of close, ever more probable
    peaks, which real speech does not make, keeps all of them open until it
    ends.)

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import KeywordStream
    >>> class Quiet:  # a classifier that hears only background
    ...     classes_ = np.array(["_background_", "yes"])
    ...     def predict_proba(self, X):
    ...         return np.tile([0.9, 0.1], (len(X), 1))
    >>> stream = KeywordStream(Quiet(), sr=8000, background_label="_background_")
    >>> stream.update(np.zeros(8000, dtype=np.float32))
    []
    >>> stream.finish()
    []
    """

    def __init__(
        self,
        classifier,
        *,
        sr,
        background_label,
        threshold=0.8,
        window=0.6,
        hop=0.1,
        smooth=3,
        min_gap=0.5,
    ):
        self.classifier = classifier
        self.sr = _check_rate(sr, "sr")
        self.background_label = background_label
        self.threshold = threshold
        self.window = window
        self.hop = hop
        self.smooth = smooth
        self.min_gap = min_gap
        self._width, self._step = _check_scan(
            sr=self.sr, window=window, hop=hop, smooth=smooth, min_gap=min_gap
        )
        self._classes = np.asarray(classifier.classes_)
        self._thresholds = _class_thresholds(threshold, self._classes, background_label)
        self.reset()

    def reset(self):
        """Forget the stream: the next chunk starts a new recording.

        Returns
        -------
        self : KeywordStream
            The stream, emptied.
        """
        self.n_samples_ = 0
        self.n_windows_ = 0
        self._ended = False
        self._audio = np.zeros(0, dtype=np.float32)  # samples from _audio_start on
        self._audio_start = 0  # index in the recording of _audio[0]
        self._sums = {}  # row -> running sum of the raw rows before it, as scan_keywords sums
        self._raw = {}  # row -> its probabilities, while smoothing does not average them
        self._n_smoothed = 0
        self._evidence = {}  # smoothed row -> (best, label, background)
        self._n_tested = 0  # rows whose peak test is final
        self._peaks = []  # [row, start sample, best, label, status, emitted], by time
        return self

    def update(self, chunk):
        """Take the next samples; return the events decided by them.

        Parameters
        ----------
        chunk : ndarray [shape=(n,)]
            The next samples of the recording, at ``sr`` (any length, 0 too).

        Returns
        -------
        events : list of dict
            ``{"start", "end", "label", "score", "decided"}`` of each event
            decided now, in order of time: what :func:`scan_keywords` returns,
            plus ``decided``, the time in the recording (seconds) by which it
            was decided: the end of this chunk.
        """
        if self._ended:
            raise RuntimeError("This stream has finished: call reset() to start a new one.")
        chunk = _check_waveform(chunk)
        self._audio = np.concatenate([self._audio, chunk.astype(np.float32, copy=False)])
        self.n_samples_ += len(chunk)
        return self._advance()

    def finish(self):
        """End the recording; return the events that only its end decides.

        After this, :meth:`update` refuses more samples until :meth:`reset`.

        Returns
        -------
        events : list of dict
            As :meth:`update` returns them (``decided`` is the recording's end).
        """
        if self._ended:
            return []
        self._ended = True
        return self._advance()

    # -- the scan, a step at a time -------------------------------------------------

    def _advance(self):
        self._classify_new_windows()
        self._smooth_new_rows()
        self._test_new_rows()
        return self._decide()

    def _classify_new_windows(self):
        width, step = self._width, self._step
        first = self.n_windows_
        self._drop_audio_before(first * step)
        excerpts = []
        while (first + len(excerpts)) * step + width <= self.n_samples_:
            offset = (first + len(excerpts)) * step - self._audio_start
            excerpts.append(self._audio[offset : offset + width])
        if not excerpts and self._ended and self.n_windows_ == 0 and self.n_samples_ > 0:
            excerpts.append(self._audio)  # a recording shorter than a window: read whole
        if not excerpts:
            return
        proba = np.asarray(self.classifier.predict_proba(excerpts))
        # np.cumsum adds in the rows' own dtype, one row after the other: so does this.
        total = self._sums.get(first, np.zeros(len(self._classes), dtype=proba.dtype))
        self._sums.setdefault(first, total)
        for k, row in enumerate(proba):
            total = total + row
            self._sums[first + k + 1] = total
            self._raw[first + k] = row
        self.n_windows_ += len(excerpts)
        self._drop_audio_before(self.n_windows_ * step)

    def _drop_audio_before(self, sample):
        """Forget the samples before ``sample`` (with a hop longer than the window,
        the gap between windows: those not yet arrived are dropped as they come)."""
        drop = min(max(sample - self._audio_start, 0), len(self._audio))
        if drop:
            self._audio = self._audio[drop:].copy()
            self._audio_start += drop

    def _smooth_new_rows(self):
        before = (self.smooth - 1) // 2
        n = self.n_windows_
        rows, index = [], self._n_smoothed
        while index < n:
            low = max(index - before, 0)
            high = index - before + self.smooth
            if high > n and not self._ended:
                break
            if self.smooth <= 1 or (self._ended and n <= 1):
                rows.append(self._raw[index])  # scan_keywords does not average then
            else:
                high = min(high, n)
                total = self._sums[high].astype(np.float64) - self._sums[low].astype(np.float64)
                rows.append(total / (high - low))
            index += 1
        if not rows:
            return
        best, label, background = _keyword_evidence(
            np.array(rows), self._classes, self.background_label
        )
        for k in range(len(rows)):
            self._evidence[self._n_smoothed + k] = (best[k], label[k], background[k])
        self._n_smoothed = index
        # Rows before the lowest one a later average reads are not needed again.
        for store in (self._sums, self._raw):
            for key in [key for key in store if key < index - before - 1]:
                del store[key]

    def _test_new_rows(self):
        evidence = self._evidence
        while self._n_tested < self._n_smoothed:
            i = self._n_tested
            is_last = self._ended and i == self.n_windows_ - 1
            if not is_last and i + 1 not in evidence:
                break
            best, label, background = evidence[i]
            is_peak = best >= best.dtype.type(self._thresholds[label]) and best > background
            if i > 0:
                is_peak &= best >= evidence[i - 1][0]
            if not is_last:
                is_peak &= best > evidence[i + 1][0]
            if is_peak:
                self._peaks.append([i, i * self._step, best, label, _PENDING, False])
            self._n_tested += 1
        for key in [key for key in evidence if key < self._n_tested - 1]:
            del evidence[key]

    def _decide(self):
        gap = self.min_gap * self.sr
        # Peaks start at multiples of the hop: the first row not tested yet
        # starts here, and any peak to come starts there or later.
        unknown_from = self._n_tested * self._step
        peaks = self._peaks
        starts = [p[1] for p in peaks]
        # scan_keywords keeps peaks in order of probability, then of time, each
        # unless a kept one lies within min_gap: decided in that order here too,
        # every peak's betters are settled before it.
        for k in sorted(range(len(peaks)), key=lambda k: (-peaks[k][2], peaks[k][0])):
            p = peaks[k]
            if p[4] != _PENDING:
                continue
            status = _KEPT
            if not self._ended and unknown_from - p[1] <= gap:
                status = _PENDING  # a peak still to come may outrank it
            low, high = bisect_left(starts, p[1] - gap), bisect_right(starts, p[1] + gap)
            for q in peaks[low:high]:
                if q is p or not (q[2] > p[2] or (q[2] == p[2] and q[0] < p[0])):
                    continue
                if q[4] == _KEPT:
                    status = _DROPPED
                    break
                if q[4] == _PENDING:
                    status = _PENDING
            p[4] = status
        events = []
        for p in peaks:
            if p[4] == _PENDING:
                break  # later events wait, so that events come out in order of time
            if p[4] == _KEPT and not p[5]:
                events.append(self._event(p))
                p[5] = True
        # Decided peaks matter to later ones only within min_gap of them.
        first_pending = next((p[1] for p in peaks if p[4] == _PENDING), unknown_from)
        self._peaks = [p for p in peaks if p[4] == _PENDING or p[1] >= first_pending - gap]
        return events

    def _event(self, peak):
        start = peak[1]
        end = min(start + self._width, self.n_samples_)
        return {
            "start": round(start / self.sr, 3),
            "end": round(end / self.sr, 3),
            "label": str(self._classes[peak[3]]),
            "score": round(float(peak[2]), 4),
            "decided": round(self.n_samples_ / self.sr, 3),
        }
