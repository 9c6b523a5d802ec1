"""Keywords of a causal spotter, decided frame by frame as the audio arrives.

:class:`CausalKeywordStream` cuts the incoming samples into MFCC frames as soon
as each frame's last sample has arrived, runs the spotter's unidirectional
network one frame further, and fires an event when a keyword's probability,
averaged over the last few frames, reaches the threshold. Nothing it decides
depends on audio that has not arrived, so :meth:`CausalKeywordSpotter.spot
<sklstm.audio.CausalKeywordSpotter.spot>` is this stream fed the whole
recording at once.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._spot import _class_thresholds

__all__ = ["CausalKeywordStream"]

# Frames featurized and classified at a time: a long recording fed whole (as
# CausalKeywordSpotter.spot does) is cut in blocks, as the offline MFCC cuts it.
_BLOCK_FRAMES = 2048


def trailing_mean(rows, history, width):
    """Each row of ``rows`` averaged with the ``width - 1`` rows before it.

    ``history`` holds the rows that came before ``rows`` (the last ``width - 1``
    of them suffice); at the start of a sequence, fewer rows are averaged.
    Computed row by row over the same rows whatever the split between
    ``history`` and ``rows``, so chunks give the whole sequence's values exactly.
    """
    stacked = np.vstack([history, rows])
    start = len(history)
    out = np.empty(rows.shape)
    for i in range(len(rows)):
        out[i] = stacked[max(0, start + i - width + 1) : start + i + 1].mean(axis=0)
    return out


class CausalKeywordStream:
    """Keywords spotted by a causal spotter while the audio arrives.

    Built by :meth:`CausalKeywordSpotter.stream
    <sklstm.audio.CausalKeywordSpotter.stream>`. Feed the samples with
    :meth:`update` in chunks of any size; each call returns the events the
    chunk decided. :meth:`finish` ends the recording (its last frames are
    padded with zeros, as the offline features are), :meth:`reset` starts
    another.

    Event rule: frame ``t`` ends at ``(t * hop + n_fft - n_fft // 2) / sr``
    seconds (frames are centred, as the offline features are);
    its probabilities are averaged with those of the ``smooth - 1`` frames
    before it; when the most probable keyword reaches ``threshold`` and
    outranks the background, and no event fired in the last ``refractory``
    seconds, an event fires at the frame's end time. The network names a
    word during its last fraction of a second, so ``end`` is the estimated end
    of the word and ``start`` is ``word_duration`` before it.

    Parameters
    ----------
    pipeline : Pipeline
        The fitted :class:`~sklstm.audio.MFCC` (``top_db=None``, no deltas, no
        normalization) -> per-frame or causal transforms (e.g.
        :class:`~sklstm.RunningMeanNormalizer`, :class:`~sklstm.SequenceScaler`)
        -> unidirectional :class:`~sklstm.LSTMTagger`. Used as it is: pass a copy
        to keep the stream apart from later refits.
    sr : int
        Sampling rate of the samples fed, in Hz.
    background_label : str
        The class that is no keyword.
    threshold : float or dict
        Least averaged probability of a keyword for an event: one for every
        keyword, or a dict that gives each keyword its own.
    smooth : int
        Frames averaged.
    refractory : float
        Least time between two events, in seconds.
    word_duration : float
        Seconds from an event's ``start`` to its ``end``.

    Attributes
    ----------
    n_samples_ : int
        Samples fed since the last :meth:`reset`.
    n_frames_ : int
        Frames the network has read since the last :meth:`reset`.
    """

    def __init__(
        self, pipeline, *, sr, background_label, threshold, smooth, refractory, word_duration
    ):
        self.pipeline = pipeline
        self.sr = sr
        self.background_label = background_label
        self.threshold = threshold
        self.smooth = smooth
        self.refractory = refractory
        self.word_duration = word_duration
        mfcc, tagger = pipeline[0], pipeline[-1]
        self._n_fft, self._hop = mfcc.n_fft, mfcc.hop_length
        classes = np.asarray(tagger.classes_)
        self._keywords = np.flatnonzero(classes != background_label)
        self._background = np.flatnonzero(classes == background_label)
        self._labels = classes
        self._thresholds = _class_thresholds(threshold, classes, background_label)
        self._network = tagger.stream()
        self.reset()

    def reset(self):
        """Start a new recording: the next sample fed is its first.

        Returns
        -------
        self : CausalKeywordStream
            The stream, emptied.
        """
        self._network.reset()
        # Steps with a state carried across chunks (a running mean); the others are
        # per-frame transforms.
        self._normalizers = [
            step.stream() if hasattr(step, "stream") else None for step in self.pipeline[1:-1]
        ]
        # The offline features centre their frames: n_fft // 2 zeros come first.
        self._pending = np.zeros(self._n_fft // 2, dtype=np.float32)
        self._history = np.empty((0, len(self._labels)))
        self._last_event = -np.inf
        self._finished = False
        self.n_samples_ = 0
        self.n_frames_ = 0
        return self

    def update(self, chunk):
        """Feed the next samples of the recording.

        Parameters
        ----------
        chunk : array-like of float [shape=(n,)]
            Samples at ``sr`` that follow those fed so far (``n`` may be 0).

        Returns
        -------
        events : list of dict
            ``{"start", "end", "label", "score", "decided"}`` of each keyword
            the chunk decided, in order; times in seconds from the start of
            the recording, ``decided`` the time of the sample that decided it.
        """
        if self._finished:
            raise RuntimeError("The recording has ended (finish() was called): reset() first.")
        try:
            samples = np.asarray(chunk, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"chunk must be an array of samples ({exc}).") from None
        if samples.ndim != 1 or not np.isfinite(samples).all():
            raise ValueError(
                f"chunk must be a 1-D array of finite samples (mono), got shape {samples.shape}."
            )
        self._pending = np.concatenate([self._pending, samples])
        self.n_samples_ += len(samples)
        n_ready = 0
        if len(self._pending) >= self._n_fft:
            n_ready = 1 + (len(self._pending) - self._n_fft) // self._hop
        return self._read(n_ready)

    def finish(self):
        """End the recording: read its last frames, and return what they decide.

        Returns
        -------
        events : list of dict
            The events decided by the frames that reach past the last sample
            (which :meth:`update` could not read yet). ``reset()`` before the
            next recording.
        """
        if self._finished or self.n_samples_ == 0:
            self._finished = True
            return []
        self._finished = True
        self._pending = np.concatenate([self._pending, np.zeros(self._n_fft // 2, np.float32)])
        return self._read(self.pipeline[0].n_frames(self.n_samples_) - self.n_frames_)

    def _read(self, n_frames):
        """Featurize, classify and test the next ``n_frames`` frames of the pending samples.

        Block by block, each block's samples dropped and frames counted once its
        events are known: a Ctrl-C inside leaves a stream that ``finish()`` ends.
        """
        events = []
        while n_frames > 0:
            frames = sliding_window_view(self._pending, self._n_fft)[:: self._hop]
            frames = np.array(frames[: min(n_frames, _BLOCK_FRAMES)], dtype=np.float32)
            if not len(frames):
                break
            features = self.pipeline[0]._frame_features(frames)  # windowed in place
            for normalizer, step in zip(self._normalizers, self.pipeline[1:-1]):
                if normalizer is not None:
                    features = normalizer.update(features)
                else:
                    features = step.transform([features])[0]
            proba = self._network.update(features)
            smoothed = trailing_mean(proba, self._history, self.smooth)
            rows = np.vstack([self._history, proba])
            self._history = rows[len(rows) - self.smooth + 1 :] if self.smooth > 1 else rows[:0]
            events += self._test(smoothed, self.n_frames_)
            self._pending = self._pending[len(frames) * self._hop :]
            self.n_frames_ += len(frames)
            n_frames -= len(frames)
        return events

    def _test(self, smoothed, first):
        events = []
        end_of_audio = self.n_samples_ / self.sr
        for i, row in enumerate(smoothed):
            k = self._keywords[np.argmax(row[self._keywords])]
            background = row[self._background].max(initial=0.0)
            t = ((first + i) * self._hop + self._n_fft - self._n_fft // 2) / self.sr
            if (
                row[k] >= row.dtype.type(self._thresholds[k])
                and row[k] > background
                and t - self._last_event >= self.refractory
            ):
                self._last_event = t
                end = min(t, end_of_audio)  # the last frames reach into the zero padding
                events.append(
                    {
                        "start": round(max(0.0, end - self.word_duration), 3),
                        "end": round(end, 3),
                        "label": str(self._labels[k]),
                        "score": round(float(row[k]), 4),
                        "decided": round(end, 3),
                    }
                )
        return events

    def __repr__(self):
        return (
            f"CausalKeywordStream(threshold={self.threshold}, n_samples_={self.n_samples_}, "
            f"n_frames_={self.n_frames_})"
        )
