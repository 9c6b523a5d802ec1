"""Training-time augmentation: noise at an SNR, time shift, speed and pitch, SpecAugment masks.

How augmentation meets scikit-learn's semantics: a transformer must transform the
data the same way in ``fit_transform`` and in ``transform``, and cannot add
samples; augmentation does both. So it lives in the *fitting procedure*:

- :class:`WaveformAugmenter` describes random perturbations of waveforms
  (parameters only; ``augment`` draws one perturbed copy of each clip);
- :class:`AugmentedClassifier` is a meta-estimator whose ``fit`` trains a clone
  of its estimator (e.g. the Pipeline MFCC -> scaling -> LSTMClassifier) on the
  clips plus ``n_copies`` perturbed copies of each, and whose ``predict`` is the
  fitted estimator's, untouched. Inside a cross-validation, only the training
  folds are augmented: no copy of a validation clip leaks into training;
- :class:`SpecAugment` is a skorch callback for ``LSTMClassifier(callbacks=...)``
  that masks bands of features and spans of frames in each *training* batch,
  drawn afresh every epoch; predictions never see it.

The functions (:func:`add_noise`, :func:`add_reverb`, :func:`time_shift`,
:func:`change_speed`, :func:`shift_pitch`) perturb one waveform each, and
:func:`colored_noise` draws noise to add, for users building their own data sets.
"""

from numbers import Integral, Real

import numpy as np
import scipy.fft
import scipy.signal
import torch
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from ._io import _check_length, _check_rate, _check_waveform, resample

__all__ = [
    "AugmentedClassifier",
    "SpecAugment",
    "WaveformAugmenter",
    "add_noise",
    "add_reverb",
    "change_speed",
    "change_tempo",
    "colored_noise",
    "shift_pitch",
    "time_shift",
]

# Largest pitch shift: ten octaves, a factor of 1024 in frequency and length.
_MAX_SEMITONES = 120
# Steepest slope of coloured noise either way (60 dB per decade, 18 dB per octave):
# steeper, nearly all the power sits in the lowest (or highest) few bins, and the
# gains 1 / f^(exponent / 2) leave the float64 range for exponents of a few hundred.
_MAX_NOISE_EXPONENT = 6
# Below this frequency coloured noise is flat: 1 / f^exponent would pour its power
# into the lowest bins (a slow drift, not a sound) as recordings grow longer.
_COLORED_NOISE_FLOOR_HZ = 50.0


def add_noise(y, *, snr_db, noise=None, random_state=None, signal_power=None):
    """Add noise at a signal-to-noise ratio.

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The clean waveform.
    snr_db : float
        Ratio of the waveform's mean power to the noise's, in dB.
    noise : ndarray [shape=(m,)], default=None
        Noise to draw from: a random excerpt of ``n`` samples (repeated if
        ``m < n``). None means white Gaussian noise.
    random_state : int, RandomState instance or None, default=None
        Draws the noise or the excerpt.
    signal_power : float or None, default=None
        Mean power that ``snr_db`` refers to; None uses the waveform's own
        (silence in it included).

    Returns
    -------
    y_noisy : ndarray of float32 [shape=(n,)]
        The waveform with the noise added.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import add_noise
    >>> y = np.sin(np.arange(8000) / 5).astype(np.float32)
    >>> noisy = add_noise(y, snr_db=10, random_state=0)
    >>> round(float(10 * np.log10(np.mean(y**2) / np.mean((noisy - y) ** 2))))
    10
    """
    rng = check_random_state(random_state)
    y = _check_waveform(y)
    if isinstance(snr_db, bool) or not isinstance(snr_db, Real):
        raise TypeError(f"snr_db must be a number of dB, got {snr_db!r}.")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}.")
    if noise is not None:
        noise = _check_waveform(noise, "noise")
        if len(noise) == 0:
            raise ValueError("noise is empty: it holds no samples to draw an excerpt from.")
    if signal_power is not None and not (
        isinstance(signal_power, Real) and np.isfinite(signal_power) and signal_power >= 0
    ):
        raise ValueError(f"signal_power must be a finite power >= 0, got {signal_power!r}.")
    if len(y) == 0:
        return y.copy()
    if noise is None:
        excerpt = rng.standard_normal(len(y))
    else:
        if len(noise) < len(y):
            noise = np.tile(noise, -(-len(y) // len(noise)))
        start = rng.randint(len(noise) - len(y) + 1)
        excerpt = noise[start : start + len(y)]
    noise_power = np.mean(np.square(excerpt, dtype=np.float64))
    if noise_power == 0:
        return y.copy()
    with np.errstate(over="ignore"):
        if signal_power is None:
            signal_power = np.mean(np.square(y, dtype=np.float64))
        gain = np.sqrt(signal_power / noise_power / 10 ** (snr_db / 10))
        noisy = (y + gain * excerpt).astype(np.float32)
    if not np.isfinite(noisy).all():
        raise ValueError(
            f"snr_db={snr_db!r} asks for noise beyond the float32 range: raise the ratio."
        )
    return noisy


def colored_noise(n, *, exponent, sr, random_state=None):
    """Gaussian noise whose power falls with frequency as ``1 / f ** exponent``.

    ``exponent=0`` is white noise, 1 pink (equal power per octave), 2 brown
    (red). Background noise of fans, engines, traffic and rooms has more power
    at low frequencies than white noise (the noisiest speaker of
    ``digits_en`` records over noise that falls by about 7 dB per octave, an
    exponent near 2.3). The spectrum is flat below 50 Hz, so that the power
    does not drift into the lowest frequencies as ``n`` grows (at ``sr`` of
    100 Hz or less, the noise is white whatever the exponent).

    Parameters
    ----------
    n : int
        Samples.
    exponent : float
        Slope of the power spectrum, within +-6: 10 * ``exponent`` dB per
        decade (about 3 dB per octave per unit); negative values tilt it
        upwards (blue).
    sr : float
        Sampling rate in Hz (the frequencies of the slope).
    random_state : int, RandomState instance or None, default=None
        Draws the noise.

    Returns
    -------
    noise : ndarray of float64 [shape=(n,)]
        The noise, scaled to a mean power of 1 (an empty array when ``n`` is 0).

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import colored_noise
    >>> noise = colored_noise(80_000, exponent=2.0, sr=8000, random_state=0)
    >>> power = np.abs(np.fft.rfft(noise)) ** 2
    >>> freqs = np.fft.rfftfreq(len(noise), 1 / 8000)
    >>> low = power[(freqs >= 200) & (freqs < 400)].mean()
    >>> high = power[(freqs >= 1600) & (freqs < 3200)].mean()
    >>> round(float(10 * np.log10(low / high)))  # 3 octaves of 6 dB
    18
    """
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be a number of samples, got {n!r}.")
    if n < 0:
        raise ValueError(f"n must be a number of samples >= 0, got {n!r}.")
    if isinstance(exponent, bool) or not isinstance(exponent, Real):
        raise TypeError(f"exponent must be a number, got {exponent!r}.")
    if not (np.isfinite(exponent) and abs(exponent) <= _MAX_NOISE_EXPONENT):
        raise ValueError(
            f"exponent must be a finite number within +-{_MAX_NOISE_EXPONENT}, got {exponent!r}."
        )
    sr = _check_rate(sr, "sr")
    _check_length(int(n), "The noise")
    rng = check_random_state(random_state)
    if n == 0:
        return np.zeros(0)
    spectrum = scipy.fft.rfft(rng.standard_normal(int(n)))
    freqs = np.maximum(scipy.fft.rfftfreq(int(n), 1 / sr), _COLORED_NOISE_FLOOR_HZ)
    noise = scipy.fft.irfft(spectrum * freqs ** (-exponent / 2), int(n))
    return noise / np.sqrt(np.mean(noise**2) + 1e-300)


def add_reverb(y, *, sr, rt60, random_state=None):
    """Reverberate a waveform with a synthetic room impulse response.

    The response is the direct sound followed by a tail of Gaussian noise that
    decays by 60 dB in ``rt60`` seconds (a diffuse field of exponentially
    decaying reflections, the usual statistical model of a room), starting
    5 ms after the direct sound. The output keeps the input's length and
    mean power, so the reverberation changes the sound, not the level.

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The dry waveform.
    sr : int
        Its rate, in Hz.
    rt60 : float
        Reverberation time in seconds (0.2: a small furnished room, 1.0: a
        hall), at least 0.01.
    random_state : int, RandomState instance or None, default=None
        Draws the tail.

    Returns
    -------
    y_wet : ndarray of float32 [shape=(n,)]
        The reverberated waveform.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import add_reverb
    >>> click = np.zeros(800, dtype=np.float32)
    >>> click[100] = 1.0
    >>> wet = add_reverb(click, sr=8000, rt60=0.3, random_state=0)
    >>> wet.shape, bool(np.abs(wet[200:]).max() > 0)
    ((800,), True)
    """
    y = _check_waveform(y)
    sr = _check_rate(sr, "sr")
    if isinstance(rt60, bool) or not (isinstance(rt60, Real) and 0.01 <= rt60 <= 10):
        raise ValueError(f"rt60 must be a time in seconds between 0.01 and 10, got {rt60!r}.")
    rng = check_random_state(random_state)
    n_tail = max(1, int(rt60 * sr))
    t = np.arange(n_tail) / sr
    response = np.zeros(int(0.005 * sr) + n_tail)
    response[0] = 1.0
    # -60 dB at rt60: amplitude exp(-6.91 t / rt60); the tail holds most of the energy.
    response[-n_tail:] = rng.standard_normal(n_tail) * np.exp(-6.91 * t / rt60) * 0.3
    if not len(y):
        return y.astype(np.float32)
    wet = scipy.signal.fftconvolve(y.astype(np.float64), response)[: len(y)]
    power_in = np.mean(np.square(y, dtype=np.float64))
    power_out = np.mean(np.square(wet))
    if power_out > 0:
        wet *= np.sqrt(power_in / power_out)
    return wet.astype(np.float32)


def time_shift(y, *, before, after):
    """Shift a clip in time by adding silence at its ends (or cutting them).

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The waveform.
    before : int
        Samples of silence added at the start; negative cuts as many.
    after : int
        Samples of silence added at the end; negative cuts as many.

    Returns
    -------
    y_shifted : ndarray of float32 [shape=(max(1, n + before + after),)]
        The shifted waveform; at least one sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import time_shift
    >>> time_shift(np.ones(4), before=2, after=-1)
    array([0., 0., 1., 1., 1.], dtype=float32)
    """
    y = _check_waveform(y)
    for name, value in (("before", before), ("after", after)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be a whole number of samples, got {value!r}.")
    _check_length(len(y) + max(0, before) + max(0, after), "The shifted waveform")
    n = len(y)
    # A cut longer than the clip leaves nothing (not a slice counted from the end).
    y = y[max(0, -before) : max(0, n - max(0, -after))]
    if len(y) == 0:
        return np.zeros(max(1, n + before + after), dtype=np.float32)
    return np.pad(y, (max(0, before), max(0, after)))


def change_speed(y, *, rate):
    """Play a clip ``rate`` times faster, raising its pitch as much (tape speed).

    The perturbation of Ko et al. (2015), "Audio augmentation for speech
    recognition": resampling (soxr, anti-aliased) from ``rate * sr`` to ``sr``.

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The waveform.
    rate : float
        Speed factor, between 1e-6 and 1e6.

    Returns
    -------
    y_fast : ndarray of float32 [shape=(floor(n / rate + 0.5),)]
        The waveform played ``rate`` times faster (pitch moves with it).

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import change_speed
    >>> change_speed(np.zeros(8000), rate=1.25).shape
    (6400,)
    """
    rate = _check_rate(rate, "rate")
    if not 1e-6 <= rate <= 1e6:  # what resample accepts, said in terms of rate
        raise ValueError(f"rate={rate:g} is beyond the speed factors of 1e-06 to 1e+06.")
    y = _check_waveform(y)
    _check_length(np.ceil(len(y) / rate), f"The waveform at rate={rate:g}")
    # Only the ratio of the two rates matters.
    return resample(y, orig_sr=rate * 1000.0, target_sr=1000.0)


def _stretch(y, rate, n_fft=256, hop=64):
    """Phase-vocoder time stretch: ``rate`` times faster, pitch kept.

    Vectorized over frames, in float32: phases accumulate the measured phase
    advance of the frame each output step falls in (Laroche & Dolson's scheme,
    as librosa's ``phase_vocoder``); the output is overlap-added and
    normalized by the window's summed square.
    """
    n = len(y)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    padded = np.pad(y, (n_fft // 2, n_fft // 2 + hop))
    spectra = scipy.fft.rfft(sliding_window_view(padded, n_fft)[::hop] * window, axis=1)
    magnitude, angle = np.abs(spectra), np.angle(spectra)
    steps = np.arange(0, len(spectra) - 1, rate)
    left = steps.astype(np.int64)
    frac = (steps - left).astype(np.float32)[:, None]
    magnitude = (1 - frac) * magnitude[left] + frac * magnitude[left + 1]
    expected = (2 * np.pi * hop / n_fft * np.arange(spectra.shape[1])).astype(np.float32)
    advance = angle[1:] - angle[:-1] - expected
    advance -= np.float32(2 * np.pi) * np.round(advance / np.float32(2 * np.pi))
    advance += expected
    phase = np.empty_like(magnitude)
    phase[0] = angle[0]
    np.cumsum(advance[left[:-1]], axis=0, out=phase[1:])
    phase[1:] += angle[0]
    stretched = np.empty(magnitude.shape, dtype=np.complex64)
    stretched.real = magnitude * np.cos(phase)
    stretched.imag = magnitude * np.sin(phase)
    frames = scipy.fft.irfft(stretched, n=n_fft, axis=1) * window
    length = hop * (len(frames) - 1) + n_fft
    out = np.zeros(length, dtype=np.float32)
    norm = np.zeros(length, dtype=np.float32)
    # Overlap-add in n_fft // hop passes of frames that do not overlap each other.
    per_pass = n_fft // hop
    for k in range(per_pass):
        chunk = frames[k::per_pass]
        start = k * hop
        out[start : start + chunk.size] += chunk.ravel()
        norm[start : start + chunk.size] += np.tile(window**2, len(chunk))
    out /= np.maximum(norm, 1e-3)
    target = int(round(n / rate))
    return out[n_fft // 2 : n_fft // 2 + target]


def change_tempo(y, *, rate):
    """Speak ``rate`` times faster, keeping the pitch (phase-vocoder time stretch).

    Speakers differ in speaking rate far more than in pitch: in FSDD the median
    "six" lasts 0.25 s for one speaker and 0.71 s for another.

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The waveform.
    rate : float
        Tempo factor, > 0.

    Returns
    -------
    y_stretched : ndarray of float32 [shape=(round(n / rate),)]
        The waveform ``rate`` times faster at the same pitch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import change_tempo
    >>> y = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    >>> slow = change_tempo(y, rate=0.5)
    >>> slow.shape, int(np.argmax(np.abs(np.fft.rfft(slow))) / 2)
    ((16000,), 440)
    """
    rate = _check_rate(rate, "rate")
    y = _check_waveform(y)
    _check_length(round(len(y) / rate), f"The waveform at rate={rate:g}")
    return _stretch(y, rate) if len(y) > 1 else y.copy()


def shift_pitch(y, *, n_steps):
    """Raise (or lower) the pitch by ``n_steps`` semitones, keeping the duration.

    Speed change by ``2 ** (n_steps / 12)`` (resampling), then a phase-vocoder
    time stretch back to the original length: what ``librosa.effects.pitch_shift``
    does, in vectorized numpy (no numba compilation, ~1 ms per second of audio).

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        The waveform.
    n_steps : float
        Semitones; negative lowers the pitch.

    Returns
    -------
    y_shifted : ndarray of float32 [shape=(n,)]
        The waveform at the new pitch, same length and tempo.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import shift_pitch
    >>> y = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    >>> shifted = shift_pitch(y, n_steps=12)
    >>> shifted.shape, int(np.argmax(np.abs(np.fft.rfft(shifted))))
    ((8000,), 880)
    """
    y = _check_waveform(y)
    if isinstance(n_steps, bool) or not isinstance(n_steps, Real):
        raise TypeError(f"n_steps must be a number of semitones, got {n_steps!r}.")
    if not np.isfinite(n_steps) or abs(n_steps) > _MAX_SEMITONES:
        raise ValueError(
            f"n_steps must be a finite number of semitones within +-{_MAX_SEMITONES} "
            f"(a factor of {2 ** (_MAX_SEMITONES // 12)} in frequency), got {n_steps!r}."
        )
    rate = 2.0 ** (n_steps / 12)
    fast = change_speed(y, rate=rate)
    stretched = _stretch(fast, 1 / rate) if len(fast) > 1 else fast
    out = np.zeros(len(y), dtype=np.float32)
    out[: min(len(y), len(stretched))] = stretched[: len(y)]
    return out


def _pair(value, name, *, positive=False):
    """A range ``(low, high)`` of finite numbers (positive ones for factors)."""
    if (
        len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, Real) for v in value)
        or not np.isfinite(value).all()
    ):
        raise ValueError(f"{name}={value!r} must be a pair (low, high) of finite numbers.")
    low, high = value
    if positive and low <= 0:
        raise ValueError(f"{name}={value!r}: factors must be positive.")
    if low > high:
        raise ValueError(f"{name}={value!r}: the low end must not exceed the high end.")
    return float(low), float(high)


class WaveformAugmenter(BaseEstimator):
    """Random perturbations of waveforms: speed, pitch, time shift, reverberation, noise.

    Each call to :meth:`augment` returns one perturbed copy of every clip, the
    perturbations drawn independently per clip, applied in this order: speed,
    tempo, pitch, shift (silence added at each end), reverberation, noise.
    Use it through :class:`AugmentedClassifier`, which keeps it to ``fit``.

    Parameters
    ----------
    sr : int, default=8000
        Sampling rate of the waveforms, in Hz (for durations in seconds).
    speed : tuple of (float, float) or None, default=(0.9, 1.1)
        Range of the speed factor (uniform); None for no speed change.
    tempo : tuple of (float, float) or None, default=None
        Range of the tempo factor (log-uniform: as likely slower as faster),
        pitch kept; None for no tempo change.
    pitch : tuple of (float, float) or None, default=None
        Range of the pitch shift in semitones (uniform); None for none.
    shift : float, default=0.1
        Most silence added at each end, in seconds (uniform in ``[0, shift]``,
        drawn separately for each end).
    snr_db : tuple of (float, float) or None, default=(0.0, 20.0)
        Range of the signal-to-noise ratio in dB (uniform); None for no noise.
    noise_prob : float, default=0.8
        Probability that a copy gets noise.
    reverb_prob : float, default=0.0
        Probability that a copy is reverberated (:func:`add_reverb`).
    rt60 : tuple of (float, float), default=(0.2, 0.8)
        Range of the reverberation time in seconds (uniform).
    noises : list of ndarray [shape=(m_k,)] or None, default=None
        Recordings of background noise to draw excerpts from (each copy
        picks one, or synthetic noise, see ``white_prob``). None means
        synthetic noise only (white, or coloured with ``noise_exponent``).
    white_prob : float or None, default=None
        Probability that a noisy copy gets synthetic noise (white, or coloured
        with ``noise_exponent``) rather than an excerpt of one of ``noises``;
        None makes synthetic noise and each recording equally likely
        (``1 / (1 + len(noises))``).
    noise_exponent : tuple of (float, float) or None, default=None
        Range of the spectral slope (uniform) of the synthetic noise that
        copies get instead of white noise: :func:`colored_noise` with an
        exponent drawn for each copy (0 white, 1 pink, 2 brown). Real
        background noise mostly has more power at low frequencies than
        white noise. None: white noise.
    snr_of : {"copy", "clip"}, default="copy"
        The power that ``snr_db`` refers to: of the whole copy, with the
        silence the shift added (the longer that silence, the quieter the
        noise against the speech), or of the clip before the shift and
        reverberation (for clips cut close around their word: the speech's).

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import WaveformAugmenter
    >>> clips = [np.ones(4000, dtype=np.float32), np.ones(6000, dtype=np.float32)]
    >>> copies = WaveformAugmenter(shift=0.0, snr_db=None).augment(clips, random_state=0)
    >>> [len(c) for c in copies]
    [3961, 5752]
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Integral, 1, None, closed="left")],
        "speed": [None, tuple],
        "tempo": [None, tuple],
        "pitch": [None, tuple],
        "shift": [Interval(Real, 0, None, closed="left")],
        "snr_db": [None, tuple],
        "noise_prob": [Interval(Real, 0, 1, closed="both")],
        "reverb_prob": [Interval(Real, 0, 1, closed="both")],
        "rt60": [tuple],
        "noises": [None, list],
        "white_prob": [None, Interval(Real, 0, 1, closed="both")],
        "noise_exponent": [None, tuple],
        "snr_of": [StrOptions({"copy", "clip"})],
    }

    def __init__(
        self,
        *,
        sr=8000,
        speed=(0.9, 1.1),
        tempo=None,
        pitch=None,
        shift=0.1,
        snr_db=(0.0, 20.0),
        noise_prob=0.8,
        reverb_prob=0.0,
        rt60=(0.2, 0.8),
        noises=None,
        white_prob=None,
        noise_exponent=None,
        snr_of="copy",
    ):
        self.sr = sr
        self.speed = speed
        self.tempo = tempo
        self.pitch = pitch
        self.shift = shift
        self.snr_db = snr_db
        self.noise_prob = noise_prob
        self.reverb_prob = reverb_prob
        self.rt60 = rt60
        self.noises = noises
        self.white_prob = white_prob
        self.noise_exponent = noise_exponent
        self.snr_of = snr_of

    def __setstate__(self, state):
        # Augmenters pickled before noise_exponent existed drew white noise.
        state.setdefault("noise_exponent", None)
        super().__setstate__(state)

    def augment(self, X, *, random_state=None):
        """One perturbed copy of every clip.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)]
            Waveforms at ``sr``.
        random_state : int, RandomState instance or None, default=None
            Draws the perturbations.

        Returns
        -------
        copies : list of ndarray of float32 [shape=(m_i,)]
            One perturbed waveform per clip, in order; lengths change with
            speed and tempo.
        """
        self._validate_params()
        rng = check_random_state(random_state)
        speed = None if self.speed is None else _pair(self.speed, "speed", positive=True)
        tempo = None if self.tempo is None else np.log(_pair(self.tempo, "tempo", positive=True))
        pitch = None if self.pitch is None else _pair(self.pitch, "pitch")
        if pitch is not None and max(map(abs, pitch)) > _MAX_SEMITONES:
            raise ValueError(f"pitch={self.pitch!r} must lie within +-{_MAX_SEMITONES} semitones.")
        snr = None if self.snr_db is None else _pair(self.snr_db, "snr_db")
        exponent = self.noise_exponent
        if exponent is not None:
            exponent = _pair(exponent, "noise_exponent")
            if max(map(abs, exponent)) > _MAX_NOISE_EXPONENT:
                raise ValueError(
                    f"noise_exponent={self.noise_exponent!r} must lie within "
                    f"+-{_MAX_NOISE_EXPONENT}."
                )
        rt60 = _pair(self.rt60, "rt60", positive=True)
        if self.reverb_prob > 0 and not 0.01 <= rt60[0] <= rt60[1] <= 10:
            raise ValueError(f"rt60={self.rt60!r} must lie within 0.01 and 10 seconds.")
        noises = self.noises or []
        max_shift = int(self.shift * self.sr)
        # Checked and cast once here, not by add_noise for every clip.
        noises = [_check_waveform(noise, f"noises[{k}]") for k, noise in enumerate(noises)]
        for k, noise in enumerate(noises):
            if len(noise) == 0:
                raise ValueError(f"noises[{k}] is empty: it holds no samples.")
        copies = []
        for i, y in enumerate(X):
            y = _check_waveform(y, f"Clip {i}")
            if speed is not None:
                y = change_speed(y, rate=rng.uniform(*speed))
            if tempo is not None:
                y = change_tempo(y, rate=np.exp(rng.uniform(*tempo)))
            if pitch is not None:
                y = shift_pitch(y, n_steps=rng.uniform(*pitch))
            power = np.mean(np.square(y, dtype=np.float64)) if self.snr_of == "clip" else None
            if max_shift:
                y = time_shift(
                    y, before=rng.randint(max_shift + 1), after=rng.randint(max_shift + 1)
                )
            # No draw without reverberation: copies stay as they were before it existed.
            if self.reverb_prob > 0 and rng.uniform() < self.reverb_prob:
                y = add_reverb(y, sr=self.sr, rt60=rng.uniform(*rt60), random_state=rng)
            if snr is not None and rng.uniform() < self.noise_prob:
                if self.white_prob is None or not noises:
                    pick = rng.randint(len(noises) + 1)
                elif rng.uniform() < self.white_prob:
                    pick = 0
                else:
                    pick = 1 + rng.randint(len(noises))
                noise = noises[pick - 1] if pick else None
                if noise is None and exponent is not None and len(y):
                    noise = colored_noise(
                        len(y), exponent=rng.uniform(*exponent), sr=self.sr, random_state=rng
                    )
                y = add_noise(
                    y, snr_db=rng.uniform(*snr), noise=noise, random_state=rng,
                    signal_power=power,
                )  # fmt: skip
            copies.append(y)
        return copies


class AugmentedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train a classifier on clips plus randomly perturbed copies of them.

    ``fit`` trains a clone of ``estimator`` on the clips and ``n_copies``
    copies of each drawn by ``augmenter``; prediction is the fitted clone's.
    Augmentation thus belongs to fitting only, and in a cross-validation only
    the training folds are augmented.

    Parameters
    ----------
    estimator : estimator object
        A classifier taking waveforms, e.g. the Pipeline MFCC -> SequenceScaler
        -> LSTMClassifier.
    augmenter : WaveformAugmenter, default=None
        The perturbations; None means ``WaveformAugmenter()``.
    n_copies : int, default=2
        Perturbed copies of each clip added to the training set.
    random_state : int, RandomState instance or None, default=None
        Draws the perturbations.

    Attributes
    ----------
    estimator_ : estimator object
        The clone of ``estimator`` fitted on the augmented training set.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_train_ : int
        Clips the estimator was trained on: ``n_samples * (1 + n_copies)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklstm.audio import AugmentedClassifier, WaveformAugmenter
    >>> clips = [np.ones(800, dtype=np.float32)] * 4
    >>> model = AugmentedClassifier(
    ...     DummyClassifier(), augmenter=WaveformAugmenter(), n_copies=2, random_state=0
    ... )
    >>> model.fit(np.zeros((4, 1)), [0, 1, 1, 1]).n_train_
    12
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "augmenter": [None, HasMethods(["augment"])],
        "n_copies": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, augmenter=None, n_copies=2, random_state=None):
        self.estimator = estimator
        self.augmenter = augmenter
        self.n_copies = n_copies
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the estimator on ``X`` and its perturbed copies.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)]
            Waveforms.
        y : array-like of shape (n_samples,)
            Labels.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : object
            The fitted meta-estimator.
        """
        X_train, y_train = self.training_set(X, y)
        self.estimator_ = clone(self.estimator).fit(X_train, y_train, **fit_params)
        self.classes_ = self.estimator_.classes_
        self.n_train_ = len(X_train)
        return self

    def training_set(self, X, y):
        """The clips and labels ``fit`` trains the estimator on.

        ``X`` followed by ``n_copies`` perturbed copies of it. With an integer
        ``random_state`` the copies are the same at every call, in every
        process: what lets a training run interrupted mid-way be resumed on
        exactly the data it started with.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)]
            Waveforms.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        X_train : list of ndarray [shape=(m_i,)]
            ``n_samples * (1 + n_copies)`` waveforms.
        y_train : ndarray of shape (n_samples * (1 + n_copies),)
            Their labels.
        """
        self._validate_params()
        X = list(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X holds {len(X)} clips but y {len(y)} labels.")
        rng = check_random_state(self.random_state)
        augmenter = WaveformAugmenter() if self.augmenter is None else self.augmenter
        X_train, y_train = list(X), [y]
        for _ in range(self.n_copies):
            X_train.extend(augmenter.augment(X, random_state=rng))
            y_train.append(y)
        return X_train, np.concatenate(y_train)

    def predict(self, X):
        """Predict with the fitted estimator.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)]
            Waveforms.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def _estimator_has(attr):
        def check(self):
            obj = self.estimator_ if hasattr(self, "estimator_") else self.estimator
            return hasattr(obj, attr)

        return check

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : list of ndarray [shape=(n_i,)]
            Waveforms.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in ``classes_`` order.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)


class SpecAugment(Callback):
    """SpecAugment masking of training batches, as a skorch callback.

    Pass it to ``LSTMClassifier(callbacks=[SpecAugment()])``: before each
    training batch, every sequence gets ``freq_masks`` bands of up to
    ``freq_width`` consecutive features and ``time_masks`` spans of up to
    ``time_width`` consecutive frames (within its length) set to zero, which
    after :class:`~sklstm.SequenceScaler` is the feature's mean (Park et al.,
    2019). Masks are drawn afresh for every batch of every epoch; validation
    batches and predictions are never masked. Each epoch's masks depend only
    on ``random_state`` and the epoch's number, so that a fit resumed from a
    checkpoint (:mod:`sklstm.checkpoint`) draws the masks the uninterrupted
    fit would have drawn.

    Parameters
    ----------
    freq_masks : int, default=2
        Feature bands masked per sequence.
    freq_width : int, default=4
        Most features in a band.
    time_masks : int, default=2
        Frame spans masked per sequence.
    time_width : int, default=5
        Most frames in a span (at most a fifth of the sequence's length).
    random_state : int or None, default=None
        Seed of the masks (combined with the epoch's number). None draws
        different masks at every fit.

    Notes
    -----
    The callback edits the batch's padded tensor ``x [shape=(T, B, F)]`` in
    place, with ``lengths [shape=(B,)]``: the batch layout of sklstm's training
    engine.
    """

    def __init__(
        self, *, freq_masks=2, freq_width=4, time_masks=2, time_width=5, random_state=None
    ):
        self.freq_masks = freq_masks
        self.freq_width = freq_width
        self.time_masks = time_masks
        self.time_width = time_width
        self.random_state = random_state

    def on_train_begin(self, net, **kwargs):
        """Draw the entropy of this fit's masks when ``random_state`` is None.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs : dict
            skorch's other arguments, unused.
        """
        if self.random_state is None:
            self._entropy = np.random.SeedSequence().entropy
        else:
            self._entropy = int(self.random_state)

    def on_epoch_begin(self, net, **kwargs):
        """Seed the masks of this epoch from ``random_state`` and the epoch's number.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained; ``len(net.history)`` numbers the epoch
            (it counts the epochs restored from a checkpoint too).
        **kwargs : dict
            skorch's other arguments, unused.
        """
        self.rng_ = np.random.default_rng([self._entropy, len(net.history)])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        """Mask a training batch in place; leave validation batches alone.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        batch : tuple, default=None
            ``(inputs, targets)``, ``inputs`` with ``x [shape=(T, B, F)]`` and
            ``lengths [shape=(B,)]``.
        training : bool, default=False
            Whether the batch is a training batch.
        **kwargs : dict
            skorch's other arguments, unused.
        """
        if not training:
            return
        inputs = batch[0]
        x, lengths = inputs.x, inputs.lengths.numpy()
        T, B, F = x.shape
        rng = self.rng_
        mask = np.zeros((T, B, F), dtype=bool)
        for _ in range(self.freq_masks):
            width = rng.integers(0, self.freq_width + 1, B)
            start = rng.integers(0, np.maximum(F - width, 0) + 1)
            feature = np.arange(F)
            mask |= ((feature >= start[:, None]) & (feature < (start + width)[:, None]))[None]
        for _ in range(self.time_masks):
            most = np.minimum(self.time_width, lengths // 5)
            width = (rng.random(B) * (most + 1)).astype(np.int64)
            start = (rng.random(B) * (lengths - width + 1)).astype(np.int64)
            step = np.arange(T)[:, None]
            mask |= ((step >= start) & (step < start + width))[:, :, None]
        x[torch.from_numpy(mask)] = 0.0
