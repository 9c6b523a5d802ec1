"""A causal keyword spotter: words named as they end, from the audio heard so far.

:class:`~sklstm.audio.KeywordSpotter` classifies windows of 0.6 s and waits
for the windows after a peak before deciding it: its stream reports a word
about 0.7 s after the word has ended. :class:`CausalKeywordSpotter` reads the
MFCC frames of a recording one after the other with a unidirectional LSTM
tagger trained to name each word during its last 0.2 s, and fires as soon as
the word's probability is high enough: at the end of the word, not after it.
It trains on synthetic recordings strung from the clips, with pauses and
noise, because a tagger must learn what comes between words too.
"""

import copy
import math
import sys
import warnings
from numbers import Integral, Real
from os import PathLike

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from ..preprocessing import RunningMeanNormalizer, SequenceScaler
from ..tagger import LSTMTagger
from ._augment import WaveformAugmenter
from ._causal_stream import CausalKeywordStream, trailing_mean
from ._io import load_audio
from ._mfcc import MFCC
from ._spot import _keyword_thresholds, make_stream
from ._spotter import _check_same_settings, check_clips, check_keywords, check_threshold_keywords

__all__ = ["CausalKeywordSpotter"]

# Frames labelled with their word after its end: the last frames of a word
# reach 16 ms past it (32-ms windows), and a word's tail may be faint.
_LABEL_TAIL = 0.04
# Each clip appears in about five training recordings (0.625 recordings of 7.5
# words on average per clip; the measured setting: 1,500 recordings from 2,400 clips).
_STREAMS_PER_CLIP = 0.625


def _frame_ends(n_frames, mfcc):
    """Sample at which each centred MFCC frame ends (its last sample + 1)."""
    return np.arange(n_frames) * mfcc.hop_length + mfcc.n_fft - mfcc.n_fft // 2


def _coloured_noise(n, rng):
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -rng.uniform(-0.9, 0.95)], rng.standard_normal(n))


def _training_streams(clips, labels, *, sr, n, noises, random_state):
    """``n`` recordings of 5-10 perturbed clips with pauses, 70 % of them in noise.

    Clips are sped up or slowed down by up to 10 %, their gains spread over
    ±10 dB, pauses last 0.15-1.2 s; the noise is white, coloured or (when there
    are ``noises``) an excerpt of a recording, each a third of the time, 0-20 dB
    below the mean power of the words; microphone hiss 60 dB below it is added
    to all. Returns ``(waveform, words)`` pairs, ``words`` as :func:`make_stream`
    gives them.
    """
    rng = check_random_state(random_state)
    augmenter = WaveformAugmenter(sr=sr, speed=(0.9, 1.1), shift=0.0, noise_prob=0.0)
    streams = []
    for _ in range(n):
        idx = rng.choice(len(clips), min(len(clips), rng.randint(5, 11)), replace=False)
        words = augmenter.augment([clips[i] for i in idx], random_state=rng)
        gains = 10 ** (rng.uniform(-10, 10, len(words)) / 20)
        words = [w * g for w, g in zip(words, gains)]
        y, truth = make_stream(words, labels[idx], sr=sr, pause=(0.15, 1.2), random_state=rng)
        y = y.astype(np.float64)
        power = np.mean(np.square(np.concatenate(words), dtype=np.float64))
        if rng.uniform() < 0.7:
            kind = rng.randint(3)
            if kind == 0:
                noise = rng.standard_normal(len(y))
            elif kind == 1 or not noises:
                noise = _coloured_noise(len(y), rng)
            else:
                source = noises[rng.randint(len(noises))]
                source = np.tile(source, -(-len(y) // len(source)) + 1)
                start = rng.randint(len(source) - len(y) + 1)
                noise = source[start : start + len(y)].astype(np.float64)
            snr = rng.uniform(0, 20)
            noise *= np.sqrt(power / 10 ** (snr / 10) / max(np.mean(noise**2), 1e-20))
            y += noise
        y += rng.standard_normal(len(y)) * np.sqrt(power) * 10 ** (-60 / 20)
        streams.append((y.astype(np.float32), truth))
    return streams


class CausalKeywordSpotter(ClassifierMixin, BaseEstimator):
    """Find spoken words in a recording as they end, reading it frame by frame.

    MFCCs every 20 ms (32-ms windows), minus their running mean (so that each
    frame depends on the past alone), standardized, then a
    unidirectional LSTM tagger that gives every frame a class: a keyword
    during the last ``label_duration`` seconds of that word, the background
    everywhere else. It is trained on ``n_streams`` synthetic recordings of
    5-10 perturbed clips with pauses of 0.15-1.2 s, 70 % of them in white,
    coloured or recorded noise at 0-20 dB (``noises``). An event fires when a
    keyword's probability averaged over ``smooth`` frames reaches
    ``threshold`` (see :class:`CausalKeywordStream`).

    Compared with :class:`KeywordSpotter`, whose windows see a word whole:
    events come as the word ends rather than 0.7 s after it, at a third of
    the processing time, and the stream gives the offline events; but fewer
    clips are named right on their own, and in real noise of kinds not heard
    in training it misses and invents more words (docs/keyword_spotting.md).

    Parameters
    ----------
    sr : int, default=8000
        Sampling rate in Hz of the model; files are read at it.
    n_mfcc : int, default=13
        MFCC coefficients per frame.
    n_mels : int, default=40
        Mel bands the coefficients are computed from.
    normalize : {"running", None}, default="running"
        ``"running"``: subtract from each frame the running mean of the frames
        so far, over about the last 2 s, starting from the training frames'
        mean weighed as 1 s of frames (:class:`~sklstm.RunningMeanNormalizer`:
        online cepstral mean normalization, which removes the colour of a
        microphone, room or voice as it goes); None: no normalization.
    hidden_size : int, default=128
        Units of each LSTM layer.
    num_layers : int, default=2
        Stacked LSTM layers.
    max_iter : int, default=15
        Epochs over the training recordings (a one-cycle learning rate over
        all of them).
    batch_size : int, default=32
        Recordings per mini-batch.
    learning_rate_init : float, default=3e-3
        Peak learning rate of the cycle.
    n_streams : int or "auto", default="auto"
        Synthetic training recordings; ``"auto"``: ``0.625`` per clip (each
        clip heard about five times), at least 20.
    label_duration : float, default=0.2
        Seconds at the end of each word labelled with it (and 40 ms after).
    smooth : int, default=3
        Frames whose probabilities are averaged before the threshold.
    threshold : float or dict, default=0.8
        Least averaged probability of a keyword for an event: one for every
        keyword, or a dict ``{keyword: probability}`` that gives each its own.
    refractory : float, default=0.4
        Least time between two events, in seconds.
    background_label : str, default="_background_"
        Label of the frames that are no keyword.
    device : str, default="cpu"
        Torch device of the network.
    random_state : int, RandomState instance or None, default=0
        Seed of the training recordings, the initial weights and the batches.
    callbacks : list of skorch callbacks or None, default=None
        Added to the tagger's during ``fit`` (e.g. a
        :class:`~sklstm.checkpoint.ResumableCheckpoint`); the fitted model
        keeps none.
    verbose : int, default=0
        Print the training set's size and a table of the epochs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The keywords and ``background_label``.
    pipeline_ : Pipeline
        The fitted :class:`MFCC` -> :class:`~sklstm.RunningMeanNormalizer`
        (with ``normalize="running"``) -> :class:`~sklstm.SequenceScaler` ->
        :class:`~sklstm.LSTMTagger`, which takes waveforms at ``sr`` and
        gives each 20-ms frame its class probabilities.
    word_duration_ : float
        Median length of the training clips in seconds: how long before its
        ``end`` an event ``start``\\ s.
    n_streams_ : int
        Training recordings synthesized.
    n_iter_ : int
        Epochs trained.
    interrupted_ : bool
        Whether Ctrl-C ended the fit early, at its last completed epoch.

    See Also
    --------
    KeywordSpotter : Windows classified whole; more accurate, later events.
    CausalKeywordStream : What :meth:`stream` returns.

    Examples
    --------
    >>> from sklstm.audio import CausalKeywordSpotter
    >>> spotter = CausalKeywordSpotter().fit(clips, labels)  # doctest: +SKIP
    >>> spotter.spot("recording.wav")                        # doctest: +SKIP
    [{'start': 0.54, 'end': 0.98, 'label': '7', 'score': 0.93, 'decided': 0.98}, ...]
    >>> stream = spotter.stream()                            # doctest: +SKIP
    >>> for chunk in microphone_chunks:                      # doctest: +SKIP
    ...     print(stream.update(chunk))
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "normalize": [StrOptions({"running"}), None],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "n_streams": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "label_duration": [Interval(Real, 0, None, closed="neither")],
        "smooth": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, 0, 1, closed="both"), dict],
        "refractory": [Interval(Real, 0, None, closed="left")],
        "background_label": [str],
        "device": [str],
        "random_state": ["random_state"],
        "callbacks": [list, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        sr=8000,
        n_mfcc=13,
        n_mels=40,
        normalize="running",
        hidden_size=128,
        num_layers=2,
        max_iter=15,
        batch_size=32,
        learning_rate_init=3e-3,
        n_streams="auto",
        label_duration=0.2,
        smooth=3,
        threshold=0.8,
        refractory=0.4,
        background_label="_background_",
        device="cpu",
        random_state=0,
        callbacks=None,
        verbose=0,
    ):
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.normalize = normalize
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.n_streams = n_streams
        self.label_duration = label_duration
        self.smooth = smooth
        self.threshold = threshold
        self.refractory = refractory
        self.background_label = background_label
        self.device = device
        self.random_state = random_state
        self.callbacks = callbacks
        self.verbose = verbose

    def _pipeline(self, seed):
        # The hop and window of KeywordSpotter: 20 ms, and the fewest samples, a power
        # of two, that span 32 ms.
        n_fft = 1 << int(np.ceil(np.log2(0.032 * self.sr)))
        # 2 s of 20-ms frames, starting from the training mean weighed as 1 s of them:
        # a word heard right after a silence is not measured against itself alone
        # (docs/keyword_spotting.md: clips alone 69 % without it, 97 % with it).
        normalizer = (
            [RunningMeanNormalizer(window=100, prior=50)] if self.normalize == "running" else []
        )
        return make_pipeline(
            MFCC(
                sr=self.sr, n_mfcc=self.n_mfcc, n_mels=self.n_mels, n_fft=n_fft,
                hop_length=self.sr // 50, top_db=None, normalize=None, verbose=self.verbose,
            ),
            *normalizer,
            SequenceScaler(),
            LSTMTagger(
                hidden_size=self.hidden_size, num_layers=self.num_layers, bidirectional=False,
                max_iter=self.max_iter, batch_size=self.batch_size,
                learning_rate_init=self.learning_rate_init, device=self.device,
                random_state=seed, verbose=self.verbose,
            ),
        )  # fmt: skip

    def _frame_labels(self, n_frames, words, mfcc):
        """Each frame's class: a word's label over its last ``label_duration`` s."""
        ends = _frame_ends(n_frames, mfcc) / self.sr
        labels = np.full(n_frames, self.background_label, dtype=object)
        for word in words:
            inside = (ends >= word["end"] - self.label_duration) & (
                ends <= word["end"] + _LABEL_TAIL
            )
            labels[inside] = word["label"]
        return labels

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, noises=None, resume=None):
        """Train on recordings strung from the keyword clips.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)] or of path-like
            Keyword clips: waveforms at ``sr``, or audio files. Clips cut
            close around their word (as FSDD's and Speech Commands' are)
            label the right frames.
        y : array-like of str of shape (n_clips,)
            The keyword of each clip, as a string.
        noises : list of ndarray [shape=(n_i,)], default=None
            Recordings of background noise at ``sr``: a third of the noisy
            training recordings are mixed with excerpts of them (without
            any, with more coloured noise).
        resume : LSTMTagger, default=None
            The network of an interrupted fit, as
            :func:`~sklstm.checkpoint.load_checkpoint` returns it: training
            continues from its last completed epoch and ends as the
            uninterrupted fit would have (same clips, noises and settings).

        Returns
        -------
        self : CausalKeywordSpotter
            The fitted spotter.
        """
        waves = check_clips(X, sr=self.sr)
        y = check_keywords(y, n_clips=len(waves), background_label=self.background_label)
        check_threshold_keywords(self.threshold, y, self.background_label)
        noises = [] if noises is None else [np.asarray(n, dtype=np.float32) for n in noises]
        if any(n.ndim != 1 or not len(n) for n in noises):
            raise ValueError("noises must be non-empty 1-D waveforms at sr.")
        seed = self.random_state
        if not isinstance(seed, Integral):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        n_streams = self.n_streams
        if n_streams == "auto":
            n_streams = max(20, math.ceil(_STREAMS_PER_CLIP * len(waves)))
        streams = _training_streams(
            waves, y, sr=self.sr, n=n_streams, noises=noises, random_state=seed
        )
        pipeline = self._pipeline(seed)
        features = pipeline[:-1].fit_transform([recording for recording, _ in streams])
        labels = [
            self._frame_labels(len(f), words, pipeline[0])
            for f, (_, words) in zip(features, streams)
        ]
        # Background frames outnumber a keyword's some 40 to 1: inverse frequencies
        # to the power 1/2 keep the keywords heard without flooding the background.
        classes, counts = np.unique(np.concatenate(labels).astype(str), return_counts=True)
        missing = sorted(set(y) - set(classes))
        if missing:
            raise ValueError(
                f"No training recording holds keyword(s) {', '.join(missing)}: with "
                f"n_streams={n_streams} recordings of 5-10 clips, some clips are never "
                "drawn. Raise n_streams (or use 'auto')."
            )
        weights = {
            str(c): float(np.sqrt(counts.sum() / (len(classes) * n)))
            for c, n in zip(classes, counts)
        }
        if self.verbose:
            print(
                f"training on {n_streams} recordings ({counts.sum()} frames) strung from "
                f"{len(waves)} clips of {len(set(y))} keywords",
                file=sys.stderr,
            )
        network = pipeline[-1].set_params(
            class_weight=weights, callbacks=list(self.callbacks or []) or None
        )
        if resume is not None:
            _check_same_settings(resume, network)
            pipeline.steps[-1] = (pipeline.steps[-1][0], resume)
            resume.set_params(callbacks=network.callbacks, verbose=network.verbose)
            network = resume
        with warnings.catch_warnings():
            # The one-cycle schedule runs a fixed number of epochs by design.
            warnings.filterwarnings("ignore", "Stochastic Optimizer: Maximum", ConvergenceWarning)
            network.fit(features, labels)
        pipeline.set_params(mfcc__verbose=0)
        network.set_params(callbacks=None, verbose=0)
        self.pipeline_ = pipeline
        self.classes_ = network.classes_
        self.word_duration_ = float(np.median([len(w) for w in waves]) / self.sr)
        self.n_streams_ = n_streams
        self.n_iter_ = network.n_iter_
        self.interrupted_ = bool(network.interrupted_)
        return self

    def _recording(self, recording):
        if isinstance(recording, (str, PathLike)):
            recording = load_audio(recording, sr=self.sr)[0]
        recording = np.asarray(recording, dtype=np.float32)
        if recording.ndim != 1 or not len(recording) or not np.isfinite(recording).all():
            raise ValueError(
                f"The recording must be a non-empty, finite 1-D waveform at sr={self.sr}, "
                f"got shape {recording.shape}."
            )
        return recording

    def frame_proba(self, recording):
        """Class probabilities of every 20-ms frame of a recording.

        Parameters
        ----------
        recording : ndarray [shape=(n,)] or path-like
            Waveform at ``sr``, or an audio file (read at ``sr``).

        Returns
        -------
        times : ndarray of float [shape=(n_frames,)]
            End of each frame in seconds (the time by which it is known).
        proba : ndarray of float [shape=(n_frames, n_classes)]
            Columns in the order of ``classes_``; not averaged over frames.
        """
        check_is_fitted(self)
        recording = self._recording(recording)
        proba = self.pipeline_.predict_proba([recording])[0]
        mfcc = self.pipeline_[0]
        times = _frame_ends(len(proba), mfcc) / self.sr
        return np.minimum(times, len(recording) / self.sr), proba

    def predict_proba(self, X):
        """Probability of each class for each clip, at its most keyword-like moment.

        The averaged probabilities (over ``smooth`` frames) of the frame where
        a keyword is most probable.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)] or of path-like
            Clips: waveforms at ``sr``, or audio files.

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        keywords = self.classes_ != self.background_label
        rows = []
        for frames in self.pipeline_.predict_proba(check_clips(X, sr=self.sr)):
            smoothed = trailing_mean(frames, frames[:0], self.smooth)
            rows.append(smoothed[np.argmax(smoothed[:, keywords].max(axis=1))])
        return np.array(rows)

    def predict(self, X):
        """The keyword (or ``background_label``) of each clip.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)] or of path-like
            Clips: waveforms at ``sr``, or audio files.

        Returns
        -------
        labels : ndarray of str of shape (n_clips,)
            Most probable class of each clip's most keyword-like frame.
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def spot(self, recording, *, threshold=None):
        """Keywords said in a recording: the events of :meth:`stream` fed all of it.

        Parameters
        ----------
        recording : ndarray [shape=(n,)] or path-like
            Waveform at ``sr``, or an audio file (read at ``sr``).
        threshold : float or dict, default=None
            Least averaged keyword probability reported (a dict: per keyword);
            None uses ``threshold``.

        Returns
        -------
        events : list of dict
            ``{"start", "end", "label", "score", "decided"}`` of each keyword
            found, in order; ``end`` (and ``decided``) is the end of the frame
            that fired, ``start`` is ``word_duration_`` before it.
        """
        stream = self.stream(threshold=threshold)
        return stream.update(self._recording(recording)) + stream.finish()

    def keyword_thresholds(self, threshold=None):
        """The threshold that :meth:`spot` and :meth:`stream` apply to each keyword.

        Parameters
        ----------
        threshold : float or dict, default=None
            As for :meth:`spot`; None: this spotter's ``threshold``.

        Returns
        -------
        thresholds : dict
            ``{keyword: probability}`` for every keyword, in the order of
            ``classes_``.
        """
        check_is_fitted(self)
        threshold = self.threshold if threshold is None else threshold
        return _keyword_thresholds(threshold, self.classes_, self.background_label)

    def stream(self, *, threshold=None):
        """A :class:`CausalKeywordStream` that spots keywords while the audio arrives.

        Parameters
        ----------
        threshold : float or dict, default=None
            Least averaged keyword probability reported (a dict: per keyword);
            None uses ``threshold``.

        Returns
        -------
        stream : CausalKeywordStream
            Over a copy of the fitted pipeline, taken now. Its events equal
            :meth:`spot`'s for any chunking, to the rounding of the network's
            arithmetic (which may move a probability in its 6th digit).
        """
        check_is_fitted(self)
        if threshold is None:
            threshold = self.threshold
        return CausalKeywordStream(
            copy.deepcopy(self.pipeline_),
            sr=self.sr,
            background_label=self.background_label,
            threshold=threshold,
            smooth=self.smooth,
            refractory=self.refractory,
            word_duration=self.word_duration_,
        )
