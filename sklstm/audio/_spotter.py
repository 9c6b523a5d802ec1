"""The keyword spotter: short spoken words in, their labels out; words found in recordings.

:class:`KeywordSpotter` is what ``python -m pipelines.keyword_spotting`` trains
and runs, as an estimator: MFCCs, then an LSTM, trained on the clips, perturbed
copies of them and a background class of silence and noise, so that it can
also say "no keyword here" when :meth:`~KeywordSpotter.spot` scans a long
recording.
"""

import copy
import functools
import math
import sys
import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from os import PathLike

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from ..classifier import LSTMClassifier
from ..preprocessing import SequenceScaler
from ._augment import AugmentedClassifier, SpecAugment, WaveformAugmenter, change_speed
from ._io import load_audio
from ._live import KeywordStream
from ._mfcc import MFCC
from ._spot import _class_thresholds, _keyword_thresholds, scan_keywords, spot_keywords

__all__ = ["KeywordSpotter", "make_babble", "make_background"]

# Chosen on FSDD with indices 5-9 held out and leave-one-speaker-out
# (docs/keyword_spotting.md), like the parameters' defaults.
_FEATURES = dict(deltas=0, normalize="mean")
# frontend_channels as checkpoints written before it was a parameter have it.
_NETWORK = dict(
    frontend=None, frontend_channels=64, learning_rate="constant", input_noise=0.0, input_shift=0
)
# Synthetic noise for half the noisy copies however many noise recordings there are:
# with 46 recordings and an equal chance for each, white noise all but vanished and
# the 10-dB white-noise accuracy fell from 97.0% to 94.3% (docs/keyword_spotting.md).
# Its slope drawn from white to brown (power 1 / f^0..2), and noise on three copies
# in four rather than half: real noise has more power at low frequencies than white
# noise, and over three seeds speakers of another corpus (digits_en) gained 3 points,
# clips in real noise at 0 dB 4, at a cost of half a point in white noise at 0 dB and
# 1.3 points of spotting F1 in white noise at 5 dB (docs/keyword_spotting.md).
# Up to 0.4 s of silence at each end, the noise set against the speech itself: words
# in longer silence, as other corpora cut them and as the posterior windows hold them
# (spotting F1 +1 to +4 points in silence and noise; new speakers -0.7 and clips at
# 0 dB -1 to -3 points; with the noise against the padded copy, the longer shift cost
# 5 points at 0 dB: docs/keyword_spotting.md).
_AUGMENT = dict(
    speed=(0.9, 1.1), shift=0.4, snr_db=(0.0, 20.0), noise_prob=0.75, white_prob=0.5,
    noise_exponent=(0.0, 2.0), snr_of="clip",
)  # fmt: skip
_SPEC_AUGMENT = dict(freq_masks=1, freq_width=3, time_masks=2, time_width=4)


class _SpeedAveraged:
    """A waveform classifier whose probabilities are averaged over sped-up and slowed copies.

    Test-time augmentation: each clip is also read ``rate`` times faster for each
    rate of ``speeds`` (:func:`change_speed`), in one batch with the clip itself,
    and the probabilities of all the copies are averaged. Each clip's average
    depends on that clip alone, whatever else is in the batch.
    """

    def __init__(self, classifier, speeds):
        self.classifier = classifier
        self.speeds = tuple(speeds)
        self.classes_ = classifier.classes_

    def __repr__(self):
        return f"_SpeedAveraged({self.classifier!r}, speeds={self.speeds})"

    def predict_proba(self, X):
        X = list(X)
        if not self.speeds or not X:
            return self.classifier.predict_proba(X)
        copies = X + [change_speed(x, rate=rate) for rate in self.speeds for x in X]
        proba = np.asarray(self.classifier.predict_proba(copies))
        return proba.reshape(1 + len(self.speeds), len(X), -1).mean(axis=0)


def make_background(n, *, sr, lengths, noises=(), random_state=None):
    """``n`` clips of silence and noise, about as long as the keyword clips.

    A third is near-silence (microphone hiss, 45 to 80 dB below full scale,
    one in ten of them digital zeros), a third noise at speech levels,
    coloured by a random first-order filter, and a third excerpts of the
    ``noises`` recordings (or more coloured noise when there are none).

    Parameters
    ----------
    n : int
        Number of clips.
    sr : int
        Sampling rate in Hz (unused but for the record: lengths are in samples).
    lengths : array-like of int
        Lengths of the keyword clips; each background clip draws one and
        scales it by 0.7 to 1.5.
    noises : sequence of ndarray [shape=(n_i,)], default=()
        Recordings of background noise at ``sr``.
    random_state : int, Generator or None, default=None
        Seed of the draws.

    Returns
    -------
    clips : list of ndarray of float32 [shape=(m_i,)]
        The background clips.
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng(random_state)
    clips = []
    for i in range(n):
        length = int(rng.choice(lengths) * rng.uniform(0.7, 1.5))
        kind = i % 3
        if kind == 2 and len(noises):
            noise = noises[rng.integers(len(noises))]
            start = rng.integers(max(1, len(noise) - length))
            y = noise[start : start + length]
        else:
            y = rng.standard_normal(length)
            y = lfilter([1.0], [1.0, -rng.uniform(-0.9, 0.99)], y)
            level = rng.uniform(-80, -45) if kind == 0 else rng.uniform(-40, -10)
            y *= 10 ** (level / 20) / (np.std(y) + 1e-12)
            if kind == 0 and rng.uniform() < 0.1:
                y[:] = 0.0
        clips.append(np.asarray(y, dtype=np.float32))
    return clips


def make_babble(clips, n, *, sr, duration=5.0, talkers=(3, 7), random_state=None):
    """``n`` recordings of babble: several talkers at once, from the given clips.

    Each recording overlays ``talkers`` (drawn uniformly in the range) tracks;
    each track strings random clips together at random gains (±6 dB) with
    short random pauses, so that what is heard is overlapping speech, no word
    of which stands out for long. Background noise of cafés, open offices and
    parties is of this kind.

    Parameters
    ----------
    clips : sequence of ndarray [shape=(n_i,)]
        Speech clips at ``sr`` (e.g. the training clips).
    n : int
        Number of recordings.
    sr : int
        Sampling rate in Hz.
    duration : float, default=5.0
        Length of each recording in seconds.
    talkers : tuple of (int, int), default=(3, 7)
        Range of the number of talkers.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.

    Returns
    -------
    recordings : list of ndarray of float32 [shape=(duration * sr,)]
        Babble, each at the mean power of the clips.
    """
    if not len(clips):
        raise ValueError("make_babble needs speech clips to mix, got none.")
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
        raise ValueError(f"n must be a number of recordings (an integer >= 0), got {n!r}.")
    if not (isinstance(duration, Real) and duration > 0 and duration * sr >= 1):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}.")
    low, high = talkers
    if not (isinstance(low, Integral) and isinstance(high, Integral) and 1 <= low <= high):
        raise ValueError(
            f"talkers must be a range (low, high) of 1 <= low <= high, got {talkers!r}."
        )
    rng = check_random_state(random_state)
    length = int(duration * sr)
    power = np.mean([np.mean(np.square(c, dtype=np.float64)) for c in clips])
    recordings = []
    for _ in range(n):
        mix = np.zeros(length)
        for _ in range(rng.randint(talkers[0], talkers[1] + 1)):
            t = -rng.randint(int(0.5 * sr))
            while t < length:
                clip = np.asarray(clips[rng.randint(len(clips))], dtype=np.float64)
                gain = 10 ** (rng.uniform(-6, 6) / 20)
                a, b = max(t, 0), min(t + len(clip), length)
                if b > a:
                    mix[a:b] += gain * clip[a - t : b - t]
                t += len(clip) + int(rng.uniform(0.0, 0.3) * sr)
        mix *= np.sqrt(power / max(np.mean(np.square(mix)), 1e-20))
        recordings.append(mix.astype(np.float32))
    return recordings


def check_clips(X, *, sr):
    """Clips as float32 waveforms at ``sr``: files are read, arrays checked."""
    if isinstance(X, (str, PathLike)) or (isinstance(X, np.ndarray) and X.ndim == 1):
        raise ValueError(
            "X must be a list of clips (waveforms or audio files), not a single clip."
        )
    waves = []
    for i, clip in enumerate(X):
        if isinstance(clip, (str, PathLike)):
            waves.append(load_audio(clip, sr=sr)[0])
            continue
        wave = np.asarray(clip, dtype=np.float32)
        if wave.ndim != 1 or not len(wave) or not np.isfinite(wave).all():
            raise ValueError(
                f"Clip {i} must be a non-empty, finite 1-D waveform at sr={sr}, "
                f"got shape {wave.shape}."
            )
        waves.append(wave)
    if not waves:
        raise ValueError("X holds no clip.")
    return waves


def check_keywords(y, *, n_clips, background_label):
    """The keywords of ``n_clips`` clips as strings, none of them ``background_label``."""
    y = np.asarray(y)
    if y.dtype.kind not in "UO" or not all(isinstance(v, str) for v in y.ravel()):
        raise ValueError(
            "y must hold the keywords as strings (e.g. '0', 'yes'): the classes "
            f"include the background label {background_label!r}."
        )
    y = y.astype(str)
    if y.shape != (n_clips,):
        raise ValueError(f"X holds {n_clips} clips but y has shape {y.shape}.")
    if background_label in y:
        raise ValueError(
            f"y uses the background label {background_label!r} for keyword clips: "
            "choose another background_label."
        )
    return y


def check_threshold_keywords(threshold, y, background_label):
    """Refuse, before any training, a dict of thresholds that misnames the keywords of ``y``."""
    if isinstance(threshold, Mapping):
        classes = np.unique(np.append(np.asarray(y, dtype=str), background_label))
        _class_thresholds(threshold, classes, background_label)


def _cosine(epoch, *, epochs):
    """Learning-rate factor of epoch ``epoch`` (from 0): cosine decay to 0 over ``epochs``.

    In closed form, so that a run resumed at any epoch sets exactly the rate the
    uninterrupted run had there (CosineAnnealingLR updates the rate recursively,
    and restarts from the closed form: the two differ in the last bits).
    """
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def _training_callbacks(*, epochs, random_state):
    """The LSTM's training-time callbacks: the learning-rate schedule and the masks."""
    from skorch.callbacks import LRScheduler

    return [
        LRScheduler(policy="LambdaLR", lr_lambda=functools.partial(_cosine, epochs=epochs)),
        SpecAugment(random_state=random_state, **_SPEC_AUGMENT),
    ]


class KeywordSpotter(ClassifierMixin, BaseEstimator):
    """Name short spoken words, and find them in long recordings.

    MFCCs of each clip (a hop of ``sr // 50`` samples, 20 ms; a window of the
    fewest samples, a power of two, that span 32 ms: 256 at 8 kHz, 2,048 at
    44.1 kHz), standardized, then an LSTM whose states are max-pooled over
    time. Training adds a background class of silence and noise
    (``background_share`` of the clips, see :func:`make_background`),
    ``n_copies`` perturbed copies of every clip (speed, shift, and on three
    copies in four noise at 0-20 dB: synthetic noise from white to brown,
    :func:`colored_noise`, or excerpts of the noise recordings given to
    ``fit``; see :class:`WaveformAugmenter`) and SpecAugment masks, and
    decays the learning rate on a cosine over ``max_iter`` epochs.

    Parameters
    ----------
    sr : int, default=8000
        Sampling rate in Hz of the model; clips given as files are read at it.
    n_mfcc : int, default=13
        MFCC coefficients per frame.
    n_mels : int, default=40
        Mel bands the coefficients are computed from.
    hidden_size : int, default=128
        Units of the LSTM.
    pooling : {"max", "mean", "last", "attention"}, default="max"
        How the LSTM's states over a clip become one vector.
    max_iter : int, default=45
        Epochs, over which the cosine schedule is planned. As with any
        schedule of one's own in :class:`~sklstm.LSTMClassifier`, the fit
        ends earlier only if the training loss improves by less than 1e-4
        for 11 epochs in a row (``tol`` and ``n_iter_no_change`` at their
        defaults); no ConvergenceWarning either way.
    batch_size : int, default=64
        Clips per mini-batch.
    learning_rate_init : float, default=3e-3
        Adam's learning rate at the start of the schedule.
    n_copies : int, default=2
        Perturbed copies of each clip added to the training set.
    reverb_prob : float, default=0.0
        Probability that a perturbed copy is reverberated by a synthetic room
        (reverberation time 0.2 to 0.8 s, see :func:`add_reverb`).
    babble : int, default=0
        Recordings of babble (:func:`make_babble`, 5 s each, from the
        training clips) added to the noises: the perturbed copies are mixed
        with them, and the background class holds excerpts of them.
    background_share : float, default=0.1
        Background clips added, as a share of the clips (at least 20).
    background_label : str, default="_background_"
        Label of the background class.
    detector : {"posteriors", "segments"}, default="posteriors"
        How :meth:`spot` finds words: from the network's probabilities over a
        sliding window (:func:`scan_keywords`), or by classifying the
        stretches that stand out of the noise in energy
        (:func:`spot_keywords`). In real noise never heard in training the
        posteriors found many more words (docs/keyword_spotting.md).
    test_speeds : tuple of float, default=(0.95, 1.05)
        Speeds at which each clip (and each window :meth:`spot` reads) is also
        classified, 5 % faster and slower by default (:func:`change_speed`);
        the probabilities of the clip and its copies are averaged
        (test-time augmentation, three times the computation). ``()`` reads
        the clip alone. On FSDD it gained 0 to 4 points, 1 on average, on
        clips in noise, new speakers, another corpus and spotting
        (docs/keyword_spotting.md). Files saved before it existed load with
        ``()``.
    threshold : float, dict or "auto", default="auto"
        Least probability of a keyword for :meth:`spot` to report it: one for
        every keyword, or a dict ``{keyword: probability}`` that gives each
        keyword of the training clips its own (e.g. from :func:`tune_thresholds`,
        for ``"posteriors"``); ``"auto"``: 0.8 for
        ``"posteriors"`` (smoothed probabilities of windows, most of which hold
        part of a word), 0.5 for ``"segments"``.
    segment_params : dict, default=None
        Settings of :func:`speech_segments` (the ``"segments"`` detector).
    device : str, default="cpu"
        Torch device of the network.
    random_state : int, RandomState instance or None, default=0
        Seed of everything random in training: background clips, perturbed
        copies, initial weights, batches and masks.
    callbacks : list of skorch callbacks or None, default=None
        Added to the LSTM's during ``fit`` (e.g. a
        :class:`~sklstm.checkpoint.ResumableCheckpoint`); the fitted model
        keeps none, and :func:`sklstm.save` saves the spotter with
        ``callbacks=None``.
    verbose : int, default=0
        Print the training set's size and a table of the epochs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The keywords and ``background_label``.
    pipeline_ : Pipeline
        The fitted :class:`MFCC` -> :class:`~sklstm.SequenceScaler` ->
        :class:`~sklstm.LSTMClassifier`, which takes waveforms at ``sr``.
    n_background_ : int
        Background clips trained on.
    n_iter_ : int
        Epochs trained.
    interrupted_ : bool
        Whether Ctrl-C ended the fit early, at its last completed epoch.

    See Also
    --------
    scan_keywords : What :meth:`spot` runs by default.
    spot_keywords : What :meth:`spot` runs with ``detector="segments"``.
    AugmentedClassifier : Training on perturbed copies of the clips.

    Examples
    --------
    >>> from sklstm.audio import KeywordSpotter
    >>> spotter = KeywordSpotter(max_iter=5)
    >>> spotter.fit(["0_george_0.wav", "1_george_0.wav"], ["0", "1"])  # doctest: +SKIP
    >>> spotter.predict(["0_jackson_3.wav"])                         # doctest: +SKIP
    >>> spotter.spot("recording.wav")                                # doctest: +SKIP
    [{'start': 0.52, 'end': 0.98, 'label': '0', 'score': 0.97}, ...]
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"last", "mean", "max", "attention"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "n_copies": [Interval(Integral, 0, None, closed="left")],
        "reverb_prob": [Interval(Real, 0, 1, closed="both")],
        "babble": [Interval(Integral, 0, None, closed="left")],
        "background_share": [Interval(Real, 0, None, closed="left")],
        "background_label": [str],
        "detector": [StrOptions({"posteriors", "segments"})],
        "test_speeds": [tuple, list],
        "threshold": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"}), dict],
        "segment_params": [dict, None],
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
        hidden_size=128,
        pooling="max",
        max_iter=45,
        batch_size=64,
        learning_rate_init=3e-3,
        n_copies=2,
        reverb_prob=0.0,
        babble=0,
        background_share=0.1,
        background_label="_background_",
        detector="posteriors",
        test_speeds=(0.95, 1.05),
        threshold="auto",
        segment_params=None,
        device="cpu",
        random_state=0,
        callbacks=None,
        verbose=0,
    ):
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.hidden_size = hidden_size
        self.pooling = pooling
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.n_copies = n_copies
        self.reverb_prob = reverb_prob
        self.babble = babble
        self.background_share = background_share
        self.background_label = background_label
        self.detector = detector
        self.test_speeds = test_speeds
        self.threshold = threshold
        self.segment_params = segment_params
        self.device = device
        self.random_state = random_state
        self.callbacks = callbacks
        self.verbose = verbose

    # A file written before a parameter existed means its former behaviour.
    _PARAMS_BEFORE_0_2 = {"test_speeds": ()}

    def __setstate__(self, state):
        for name, value in self._PARAMS_BEFORE_0_2.items():
            state.setdefault(name, value)
        super().__setstate__(state)

    def _waveforms(self, X):
        return check_clips(X, sr=self.sr)

    def _pipeline(self, seed):
        # A 20 ms hop; a window of the fewest samples, a power of two, that span 32 ms
        # (32 ms at 8 and 16 kHz, 46 ms at 44.1 kHz).
        n_fft = 1 << int(np.ceil(np.log2(0.032 * self.sr)))
        return make_pipeline(
            MFCC(
                sr=self.sr, n_mfcc=self.n_mfcc, n_mels=self.n_mels, n_fft=n_fft,
                hop_length=self.sr // 50, verbose=self.verbose, **_FEATURES,
            ),
            SequenceScaler(),
            LSTMClassifier(
                hidden_size=self.hidden_size, pooling=self.pooling, max_iter=self.max_iter,
                batch_size=self.batch_size, learning_rate_init=self.learning_rate_init,
                device=self.device, random_state=seed, verbose=self.verbose, **_NETWORK,
            ),
        )  # fmt: skip

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, noises=None, resume=None):
        """Train on keyword clips, their perturbed copies and background clips.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)] or of path-like
            Keyword clips: waveforms at ``sr``, or audio files.
        y : array-like of str of shape (n_clips,)
            The keyword of each clip, as a string.
        noises : list of ndarray [shape=(n_i,)], default=None
            Recordings of background noise at ``sr`` (e.g. Speech Commands'
            ``_background_noise_``): a third of the background clips are cut
            from them, and half of the noisy copies are mixed with them.
            In ``GridSearchCV``, a list exactly as long as ``X`` would be split
            with the folds (scikit-learn splits such fit parameters): add or
            drop one recording.
        resume : LSTMClassifier, default=None
            The network of an interrupted fit, as
            :func:`~sklstm.checkpoint.load_checkpoint` returns it: training
            continues from its last completed epoch and ends as the
            uninterrupted fit would have (same clips, noises and settings).

        Returns
        -------
        self : KeywordSpotter
            The fitted spotter.
        """
        waves = self._waveforms(X)
        y = check_keywords(y, n_clips=len(waves), background_label=self.background_label)
        check_threshold_keywords(self.threshold, y, self.background_label)
        self._test_speeds()  # checked before any training
        noises = [] if noises is None else [np.asarray(n, dtype=np.float32) for n in noises]
        seed = self.random_state
        if not isinstance(seed, Integral):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        if self.babble:
            # Drawn from a seed of its own: the other draws stay as they are without it.
            noises = noises + make_babble(
                waves, self.babble, sr=self.sr, random_state=(seed + 1) % 2**32
            )
        n_background = max(20, int(round(self.background_share * len(waves))))
        background = make_background(
            n_background, sr=self.sr, lengths=[len(w) for w in waves], noises=noises,
            random_state=seed,
        )  # fmt: skip
        if self.verbose:
            print(
                f"training on {len(waves)} clips of {len(set(y))} keywords and "
                f"{n_background} background clips, {self.n_copies} augmented copies each",
                file=sys.stderr,
            )
        pipeline = self._pipeline(seed)
        augmented = AugmentedClassifier(
            pipeline,
            augmenter=WaveformAugmenter(
                sr=self.sr, noises=noises, reverb_prob=self.reverb_prob, **_AUGMENT
            ),
            n_copies=self.n_copies,
            random_state=seed,
        )
        X_train, y_train = augmented.training_set(
            waves + background, np.concatenate([y, [self.background_label] * n_background])
        )
        network = pipeline[-1]
        callbacks = _training_callbacks(epochs=self.max_iter, random_state=seed)
        network.set_params(callbacks=callbacks + list(self.callbacks or []))
        if resume is not None:
            _check_same_settings(resume, network)
            pipeline.steps[-1] = (pipeline.steps[-1][0], resume)
            resume.set_params(callbacks=network.callbacks, verbose=network.verbose)
            network = resume
        # The features, then the LSTM on them: what Pipeline.fit does, but outside
        # its callback context, which scikit-learn >= 1.9 attaches to the LSTM
        # during fit and which a checkpoint written mid-fit cannot save.
        features = pipeline[:-1].fit_transform(X_train)
        with warnings.catch_warnings():
            # The schedule runs a fixed number of epochs by design.
            warnings.filterwarnings("ignore", "Stochastic Optimizer: Maximum", ConvergenceWarning)
            network.fit(features, y_train)
        # Progress output, the schedule and the masks belong to training, not to the model.
        pipeline.set_params(mfcc__verbose=0, lstmclassifier__verbose=0)
        network.set_params(callbacks=None)
        self.pipeline_ = pipeline
        self.classes_ = pipeline.classes_
        self.n_background_ = n_background
        self.n_iter_ = network.n_iter_
        self.interrupted_ = bool(network.interrupted_)
        return self

    def predict_proba(self, X):
        """Probability of each class (keywords and background) for each clip.

        Each clip is also read at ``test_speeds`` and the probabilities averaged.

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
        return self._classifier(self.pipeline_).predict_proba(self._waveforms(X))

    def predict(self, X):
        """The keyword (or ``background_label``) of each clip.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)] or of path-like
            Clips: waveforms at ``sr``, or audio files.

        Returns
        -------
        labels : ndarray of str of shape (n_clips,)
            Most probable class of each clip.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def spot(self, recording, *, threshold=None):
        """Keywords said in a long recording.

        Each window or segment the detector judges is read as :meth:`predict_proba`
        reads a clip (at ``test_speeds`` too).

        Parameters
        ----------
        recording : ndarray [shape=(n,)] or path-like
            Waveform at ``sr``, or an audio file (read at ``sr``).
        threshold : float, dict or "auto", default=None
            Least keyword probability reported (a dict: per keyword); None uses
            ``threshold``.

        Returns
        -------
        events : list of dict
            ``{"start", "end", "label", "score"}`` of each keyword found,
            times in seconds, in order (see :func:`scan_keywords` and
            :func:`spot_keywords`).
        """
        check_is_fitted(self)
        if isinstance(recording, (str, PathLike)):
            recording = load_audio(recording, sr=self.sr)[0]
        recording = np.asarray(recording, dtype=np.float32)
        threshold = self._threshold(threshold)
        common = dict(sr=self.sr, background_label=self.background_label, threshold=threshold)
        if self.detector == "posteriors":
            return scan_keywords(self._classifier(self.pipeline_), recording, **common)
        return spot_keywords(
            self._classifier(self.pipeline_),
            recording,
            segment_params=self.segment_params or {},
            **common,
        )

    def stream(self, *, threshold=None):
        """A :class:`KeywordStream` that spots keywords while the audio arrives.

        Its events are the ones :meth:`spot` finds in the whole recording
        (with ``detector="posteriors"``), each reported as soon as the audio
        that decides it has arrived.

        Parameters
        ----------
        threshold : float, dict or "auto", default=None
            Least keyword probability reported (a dict: per keyword); None uses
            ``threshold``.

        Returns
        -------
        stream : KeywordStream
            Over a copy of this spotter's pipeline, taken now: a later refit
            does not change it.
            Feed it with ``update(chunk)`` (samples at ``sr``), end it with
            ``finish()``.

        Raises
        ------
        ValueError
            With ``detector="segments"``: the energy segments of a recording
            depend on its noise floor over the whole recording.

        Examples
        --------
        >>> stream = spotter.stream()  # doctest: +SKIP
        >>> for chunk in microphone_chunks:  # doctest: +SKIP
        ...     for event in stream.update(chunk):
        ...         print(event["label"], event["start"])
        """
        check_is_fitted(self)
        if self.detector != "posteriors":
            raise ValueError(
                f"Streaming spots with detector='posteriors'; this spotter uses "
                f"detector={self.detector!r}, whose segments depend on the noise floor "
                "of the whole recording. Use set_params(detector='posteriors')."
            )
        return KeywordStream(
            self._classifier(copy.deepcopy(self.pipeline_)),
            sr=self.sr,
            background_label=self.background_label,
            threshold=self._threshold(threshold),
        )

    def keyword_thresholds(self, threshold=None):
        """The threshold that :meth:`spot` and :meth:`stream` apply to each keyword.

        Parameters
        ----------
        threshold : float, dict or "auto", default=None
            As for :meth:`spot`; None: this spotter's ``threshold``.

        Returns
        -------
        thresholds : dict
            ``{keyword: probability}`` for every keyword, in the order of
            ``classes_``.
        """
        check_is_fitted(self)
        return _keyword_thresholds(
            self._threshold(threshold), self.classes_, self.background_label
        )

    def _test_speeds(self):
        speeds = self.test_speeds
        if not isinstance(speeds, (tuple, list)) or not all(
            isinstance(r, Real) and not isinstance(r, bool) and 0.5 <= r <= 2 for r in speeds
        ):
            raise ValueError(
                "test_speeds must be a tuple (or list) of speed factors within [0.5, 2], "
                f"got {speeds!r}."
            )
        return tuple(float(r) for r in speeds)

    def _classifier(self, pipeline):
        """``pipeline`` also read at ``test_speeds``, as predictions read it."""
        speeds = self._test_speeds()
        return _SpeedAveraged(pipeline, speeds) if speeds else pipeline

    def _threshold(self, threshold):
        """``threshold`` (None: this spotter's), ``"auto"`` resolved for its detector.

        A probability, or a dict of them checked against the keywords.
        """
        if threshold is None:
            threshold = self.threshold
        if isinstance(threshold, str) and threshold == "auto":
            return 0.8 if self.detector == "posteriors" else 0.5
        try:
            _class_thresholds(threshold, self.classes_, self.background_label)
        except ValueError as error:
            if isinstance(threshold, Mapping):
                raise
            raise ValueError(
                f"threshold must be 'auto', a probability or a dict of them, got {threshold!r}."
            ) from error
        return threshold


def _check_same_settings(resumed, fresh):
    """Refuse to resume a network trained with other settings."""
    ignored = {"callbacks", "verbose"}
    theirs = resumed.get_params(deep=False)
    changed = [
        f"{name}={theirs.get(name)!r}"
        for name, value in fresh.get_params(deep=False).items()
        if name not in ignored and theirs.get(name) != value
    ]
    if changed:
        raise ValueError(
            f"the checkpoint was written by a fit with other settings ({', '.join(changed)})."
        )
