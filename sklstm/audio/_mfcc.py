"""The MFCC transformer: waveforms or audio files in, one (T_i, n_features) array per clip out."""

import math
import os
from numbers import Integral, Real

import numpy as np
import scipy.fft
import scipy.sparse
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._io import load_audio

__all__ = ["MFCC"]

# Frames per block of the vectorized computation: large enough to amortize
# numpy's per-call overhead, small enough that a block's spectra stay in cache.
_BLOCK_FRAMES = 2048
# librosa.power_to_db's floor on power.
_AMIN = 1e-10
# Largest sample magnitude accepted: squared and summed over an FFT frame, larger
# ones overflow float32 power spectra into infinities and NaN features. Audio is
# within +-1 (floats) or +-2**31 (integer samples taken as they are).
_MAX_AMPLITUDE = 1e12


def _amplitude_error(name, peak):
    return ValueError(
        f"{name}: samples of magnitude up to {peak:.3g}, beyond the {_MAX_AMPLITUDE:.0e} "
        "MFCC accepts (audio is within +-1, or +-2**31 as integers): scale the waveform."
    )


def _is_clip(item):
    return isinstance(item, (np.ndarray, str, os.PathLike))


def _is_clip_list(X):
    """Whether ``X`` lists clips (arrays or paths) rather than being a 2D array-like.

    A list of plain lists of numbers is how scikit-learn writes a 2D array:
    equal-length waveforms, validated as such.
    """
    if isinstance(X, (list, tuple)):
        return len(X) == 0 or all(_is_clip(item) for item in X)
    return isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "OUS"


def _to_db(power):
    """``10 * log10(max(power, amin))``, in place."""
    np.maximum(power, _AMIN, out=power)
    np.log10(power, out=power)
    power *= 10.0
    return power


def _savgol_derivative_coeffs(width, order):
    """Savitzky-Golay weights of the ``order``-th derivative, polynomial order ``order``.

    ``scipy.signal.savgol_coeffs(width, order, deriv=order, use="dot")``, computed
    here because importing ``scipy.signal`` costs most of a second in a fresh process.
    """
    positions = np.arange(width) - width // 2
    vander = np.vander(positions, order + 1, increasing=True).astype(np.float64)
    return np.linalg.pinv(vander)[order] * math.factorial(order)


def _deltas(data, offsets, width, order):
    """``librosa.feature.delta(width=width, order=order)`` of every sequence, vectorized.

    With ``polyorder == deriv`` (librosa's setting), the fitted polynomial's
    derivative is constant over a window, so librosa's ``mode="interp"`` edges
    repeat the first and last full windows' values: compute every full window
    of the concatenated sequences at once and index each frame's window, clipped
    to its own sequence. A sequence shorter than ``width`` frames (where librosa
    raises) uses the widest odd window that fits, and gets zeros if none does.
    """
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    out = np.zeros_like(data)
    half = width // 2
    coeffs = _savgol_derivative_coeffs(width, order).astype(data.dtype)
    long_enough = lengths >= width
    if len(data) >= width and long_enough.any():
        # Window j (centred on frame j + half), as a sum of shifted copies: no BLAS.
        n_windows = len(data) - width + 1
        windows = coeffs[0] * data[:n_windows]
        for k in range(1, width):
            windows += coeffs[k] * data[k : k + n_windows]
        frame = np.arange(len(data))
        seq = np.repeat(np.arange(len(lengths)), lengths)
        centre = np.clip(frame, starts[seq] + half, ends[seq] - 1 - half)
        rows = frame[long_enough[seq]]
        out[rows] = windows[centre[rows] - half]
    for i in np.flatnonzero(~long_enough):
        short_width = lengths[i] if lengths[i] % 2 else lengths[i] - 1
        if short_width > order:
            out[starts[i] : ends[i]] = _deltas(
                data[starts[i] : ends[i]], np.array([0, lengths[i]]), short_width, order
            )
    return out


def _per_sequence(values, offsets, lengths, op):
    return op.reduceat(values, offsets[:-1], axis=0) if len(values) else values


class MFCC(TransformerMixin, BaseEstimator):
    """Mel-frequency cepstral coefficients of audio clips, as variable-length sequences.

    Each clip becomes an array ``[shape=(T_i, n_features)]`` with one row per
    frame: ``n_mfcc`` coefficients, then their first and second derivatives if
    ``deltas`` asks for them. The values are those of ``librosa.feature.mfcc``
    (and ``librosa.feature.delta``) with the same settings, transposed to
    time-major, the layout :class:`~sklstm.LSTMClassifier` takes.

    How it is fast: every frame of every clip goes through one computation.
    ``fit`` builds the mel filterbank with ``librosa.filters.mel`` and the
    window with ``librosa.filters.get_window``, once. ``transform`` lays all
    clips out in one buffer, each with its centring pad of zeros and aligned
    to the hop, so that a single strided view holds every frame of every clip
    without copying; blocks of frames are then windowed, Fourier-transformed
    (``scipy.fft.rfft``), projected on the filterbank (a sparse product: each
    FFT bin feeds at most two bands), converted to dB with librosa's per-clip
    ``top_db`` floor (segment reductions over the clips' frames) and
    DCT-transformed (``scipy.fft.dct``, orthonormal type II, as librosa).
    Derivatives and per-utterance normalization are segment operations too.
    Nothing is padded to a common length, nothing is compiled, and nothing
    runs through multithreaded BLAS (slow on small blocks when other
    processes load the CPU): transforming needs neither numba nor librosa's
    import, so a fresh process (the ``predict`` command) pays no warm-up.

    Parameters
    ----------
    sr : int, default=8000
        Sampling rate of the model, in Hz. Files at another rate are
        resampled to it; waveforms given as arrays must already be at it.
    n_mfcc : int, default=13
        Number of cepstral coefficients (at most ``n_mels``).
    n_mels : int, default=40
        Number of mel bands.
    n_fft : int, default=256
        FFT length, in samples.
    hop_length : int, default=80
        Samples between the starts of consecutive frames.
    win_length : int, default=None
        Window length, in samples (at most ``n_fft``; the window is centred in
        the FFT frame). None means ``n_fft``.
    window : str or tuple, default="hann"
        Window function, as ``scipy.signal.get_window`` names it.
    fmin : float, default=0.0
        Lowest frequency of the filterbank, in Hz.
    fmax : float, default=None
        Highest frequency of the filterbank, in Hz; None means ``sr / 2``.
    top_db : float, default=80.0
        Floor of each clip's log-mel power, in dB below its maximum (as in
        ``librosa.power_to_db``). None means no floor.
    deltas : {0, 1, 2}, default=0
        Append the first (1) or the first and second (2) derivatives over time.
    delta_width : int, default=9
        Frames in the window of the derivatives (odd, at least 3).
    normalize : {None, "mean", "mean_var"}, default=None
        Per-utterance normalization: subtract each clip's mean of every
        feature (cepstral mean normalization), and also divide by its
        standard deviation.
    verbose : int, default=0
        ``1`` or more shows a progress bar while files are read and features
        are computed.

    Attributes
    ----------
    mel_basis_ : ndarray of float32 [shape=(n_mels, 1 + n_fft // 2)]
        The mel filterbank (``librosa.filters.mel``, Slaney-normalized).
    window_ : ndarray of float32 [shape=(n_fft,)]
        The analysis window, zero-padded to ``n_fft``.
    n_features_out_ : int
        Features per frame: ``n_mfcc * (1 + deltas)``.
    n_features_in_ : int
        For a 2D array of equal-length waveforms, its number of columns
        (samples per clip), as scikit-learn counts features; for a list of
        clips, 1 (mono).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.

    See Also
    --------
    librosa.feature.mfcc : The reference computation, one clip at a time.
    sklstm.audio.load_audio : How files are read.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import MFCC
    >>> rng = np.random.RandomState(0)
    >>> clips = [rng.randn(8000).astype(np.float32), rng.randn(4000).astype(np.float32)]
    >>> features = MFCC(deltas=2).fit_transform(clips)
    >>> [f.shape for f in features]
    [(101, 39), (51, 39)]
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "win_length": [None, Interval(Integral, 1, None, closed="left")],
        "window": [str, tuple],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [None, Interval(Real, 0, None, closed="neither")],
        "top_db": [None, Interval(Real, 0, None, closed="left")],
        "deltas": [Interval(Integral, 0, 2, closed="both")],
        "delta_width": [Interval(Integral, 3, None, closed="left")],
        "normalize": [None, StrOptions({"mean", "mean_var"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        sr=8000,
        n_mfcc=13,
        n_mels=40,
        n_fft=256,
        hop_length=80,
        win_length=None,
        window="hann",
        fmin=0.0,
        fmax=None,
        top_db=80.0,
        deltas=0,
        delta_width=9,
        normalize=None,
        verbose=0,
    ):
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.fmin = fmin
        self.fmax = fmax
        self.top_db = top_db
        self.deltas = deltas
        self.delta_width = delta_width
        self.normalize = normalize
        self.verbose = verbose

    # -- input ------------------------------------------------------------------

    def _validate_input(self, X, *, reset):
        """The clips as a list of 1D float32 arrays, and whether the input was a list."""
        if _is_clip_list(X):
            if len(X) == 0:
                raise ValueError("X is empty: found 0 clips, a minimum of 1 is required.")
            if reset:
                self._fit_ndim = 1
                self.n_features_in_ = 1
            return list(X), True
        if reset or getattr(self, "_fit_ndim", None) == 2:
            X = validate_data(self, X, reset=reset, dtype=(np.float32, np.float64))
        else:
            # Fitted on a list: a 2D array is equal-length clips of any length.
            X = check_array(X, dtype=(np.float32, np.float64))
        if reset:
            self._fit_ndim = 2
        if X.dtype == np.float64 and X.size and max(X.max(), -X.min()) > _MAX_AMPLITUDE:
            # Before the cast to float32, which would turn them into infinities
            # (float32 input is checked clip by clip as it is loaded).
            row = int(np.abs(X).max(axis=1).argmax())
            raise _amplitude_error(f"Clip {row}", float(np.abs(X[row]).max()))
        return [np.asarray(x, dtype=np.float32) for x in X], False

    def _load(self, clips):
        from tqdm.auto import tqdm

        waves = []
        for i, clip in enumerate(
            tqdm(clips, desc="reading audio", disable=not self.verbose, leave=False)
        ):
            if isinstance(clip, np.ndarray) and clip.ndim == 1 and clip.dtype == np.float32:
                if clip.size == 0:
                    raise ValueError(f"Clip {i} is empty: it holds no samples.")
                if not np.isfinite(clip).all():
                    raise ValueError(f"Clip {i} contains NaN or infinity.")
                wave = clip
            else:
                try:
                    wave = load_audio(clip, sr=self.sr)[0]
                except ValueError as exc:
                    if isinstance(clip, (str, bytes)) or hasattr(clip, "__fspath__"):
                        raise
                    raise ValueError(f"Clip {i}: {exc}") from None
            peak = float(np.max(np.abs(wave)))
            if peak > _MAX_AMPLITUDE:
                name = clip if isinstance(clip, (str, os.PathLike)) else f"Clip {i}"
                raise _amplitude_error(name, peak)
            waves.append(wave)
        return waves

    # -- fitting ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the mel filterbank and the window for these settings.

        No clip is read: the features of a clip do not depend on the others.

        Parameters
        ----------
        X : list of (ndarray [shape=(n_i,)] or str or path-like), or \
                array-like of shape (n_clips, n_samples)
            Clips: waveforms at ``sr``, or audio files.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._validate_input(X, reset=True)
        self._build()
        return self

    def _build(self):
        import librosa.filters

        win_length = self.n_fft if self.win_length is None else self.win_length
        if win_length > self.n_fft:
            raise ValueError(f"win_length={win_length} must be at most n_fft={self.n_fft}.")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} must be at most n_mels={self.n_mels}.")
        fmax = self.sr / 2 if self.fmax is None else self.fmax
        if not self.fmin < fmax <= self.sr / 2:
            raise ValueError(
                f"Need fmin < fmax <= sr / 2, got fmin={self.fmin}, fmax={fmax}, sr={self.sr}."
            )
        if self.delta_width % 2 == 0:
            raise ValueError(f"delta_width={self.delta_width} must be odd.")
        window = librosa.filters.get_window(self.window, win_length, fftbins=True)
        left = (self.n_fft - win_length) // 2
        self.window_ = np.pad(window, (left, self.n_fft - win_length - left)).astype(np.float32)
        self.mel_basis_ = librosa.filters.mel(
            sr=self.sr,
            n_fft=self.n_fft,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=fmax,
            dtype=np.float32,
        )
        self.n_features_out_ = self.n_mfcc * (1 + self.deltas)

    # -- features -----------------------------------------------------------------

    def n_frames(self, n_samples):
        """Frames of a clip of ``n_samples`` samples: ``1 + n_samples // hop_length``.

        Parameters
        ----------
        n_samples : int or ndarray of int
            Length of the clip(s) in samples at ``sr``.

        Returns
        -------
        n_frames : int or ndarray of int
            Number of MFCC frames, the same shape as ``n_samples``.
        """
        pad = self.n_fft // 2
        return 1 + (np.asarray(n_samples) + 2 * pad - self.n_fft) // self.hop_length

    def _log_mel(self, waves):
        """Log-mel power of every frame of every clip: ``(data, offsets)``."""
        from tqdm.auto import tqdm

        n_fft, hop, pad = self.n_fft, self.hop_length, self.n_fft // 2
        sizes = np.fromiter((len(w) for w in waves), dtype=np.int64, count=len(waves))
        frames = 1 + (sizes + 2 * pad - n_fft) // hop
        offsets = np.concatenate([[0], np.cumsum(frames)])
        # Each clip owns a hop-aligned segment holding its zero pads, so that frame
        # t of clip i is row starts[i] // hop + t of one strided view of the buffer.
        segment = hop * -(-(sizes + 2 * pad) // hop)
        starts = np.concatenate([[0], np.cumsum(segment)[:-1]])
        buffer = np.zeros(int(segment.sum()) + n_fft, dtype=np.float32)
        for start, wave in zip(starts, waves):
            buffer[start + pad : start + pad + len(wave)] = wave
        view = sliding_window_view(buffer, n_fft)[::hop]
        rows = np.repeat(starts // hop - offsets[:-1], frames) + np.arange(offsets[-1])
        log_mel = np.empty((offsets[-1], self.n_mels), dtype=np.float32)
        # Sparse, because each FFT bin feeds at most two mel bands; and because
        # multithreaded BLAS on blocks this small is several times slower than
        # one thread as soon as another process keeps a core busy.
        mel_t = scipy.sparse.csr_array(self.mel_basis_.T)
        blocks = range(0, offsets[-1], _BLOCK_FRAMES)
        for a in tqdm(blocks, desc="MFCC", disable=not self.verbose, leave=False):
            log_mel[a : a + _BLOCK_FRAMES] = self._mel_power(
                view[rows[a : a + _BLOCK_FRAMES]], mel_t
            )
        _to_db(log_mel)
        if self.top_db is not None:
            peak = _per_sequence(log_mel.max(axis=1), offsets, frames, np.maximum)
            np.maximum(log_mel, np.repeat(peak - self.top_db, frames)[:, None], out=log_mel)
        return log_mel, offsets

    def _mel_power(self, frames, mel_t):
        """Mel-band power of ``frames`` [shape=(n, n_fft)], which are windowed in place."""
        frames *= self.window_
        spectrum = scipy.fft.rfft(frames, axis=1)
        power = np.square(spectrum.real)
        power += np.square(spectrum.imag)
        return power @ mel_t

    def _cepstra(self, log_mel):
        # The FFT-based DCT, like librosa's; a matrix product would go through BLAS.
        return scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, : self.n_mfcc]

    def _frame_features(self, frames):
        """MFCCs of frames already cut from the centred signal, as they arrive.

        Parameters
        ----------
        frames : ndarray of float32 [shape=(n, n_fft)]
            Frame ``t`` of a clip is its samples ``t * hop_length - n_fft // 2``
            to ``t * hop_length + n_fft // 2`` (zeros before the start and after
            the end). Windowed in place.

        Returns
        -------
        features : ndarray of float32 [shape=(n, n_mfcc)]
            What :meth:`transform` gives for those frames, computed the same way
            row by row; only for ``top_db=None``, ``deltas=0`` and
            ``normalize=None``, which would need the whole clip.
        """
        if self.top_db is not None or self.deltas or self.normalize is not None:
            raise ValueError(
                "Frames are featurized one at a time only with top_db=None, deltas=0 and "
                "normalize=None: the others depend on the whole clip."
            )
        log_mel = self._mel_power(frames, scipy.sparse.csr_array(self.mel_basis_.T))
        return self._cepstra(_to_db(log_mel.astype(np.float32, copy=False)))

    def _features(self, waves):
        log_mel, offsets = self._log_mel(waves)
        data = self._cepstra(log_mel)
        if self.deltas:
            parts = [data] + [
                _deltas(data, offsets, self.delta_width, order)
                for order in range(1, self.deltas + 1)
            ]
            data = np.concatenate(parts, axis=1)
        if self.normalize is not None:
            lengths = np.diff(offsets)
            mean = _per_sequence(data, offsets, lengths, np.add) / lengths[:, None]
            data -= np.repeat(mean, lengths, axis=0)
            if self.normalize == "mean_var":
                var = _per_sequence(np.square(data), offsets, lengths, np.add) / lengths[:, None]
                std = np.sqrt(var)
                # A constant feature (or a one-frame clip) has nothing to scale.
                std[std < 1e-6] = 1.0
                data /= np.repeat(std, lengths, axis=0)
        return data, offsets

    def transform(self, X):
        """Compute the MFCCs of every clip.

        Parameters
        ----------
        X : list of (ndarray [shape=(n_i,)] or str or path-like), or \
                array-like of shape (n_clips, n_samples)
            Clips: waveforms at ``sr`` (float; 2D arrays in a list are
            channels-first and get averaged), or audio files (read with
            soundfile, mixed to mono, resampled to ``sr``).

        Returns
        -------
        features : list of ndarray of float32 [shape=(1 + n_i // hop_length, \
                n_features)], or ndarray of float32 of shape \
                (n_clips, 1 + n_samples // hop_length, n_features)
            A list for a list of clips; a 3D array for a 2D array.
            ``n_features`` is ``n_features_out_``.

        Raises
        ------
        sklstm.audio.AudioFileError
            For a file that cannot be used (missing, empty, truncated, not
            audio, no samples); the message names the file.
        """
        check_is_fitted(self, "mel_basis_")
        clips, as_list = self._validate_input(X, reset=False)
        data, offsets = self._features(self._load(clips))
        if as_list:
            return np.split(data, offsets[1:-1])
        return data.reshape(len(clips), -1, data.shape[1])

    def fit_transform(self, X, y=None):
        """Fit, then transform ``X`` (the same as ``fit(X).transform(X)``).

        Parameters
        ----------
        X : list of (ndarray [shape=(n_i,)] or str or path-like), or \
                array-like of shape (n_clips, n_samples)
            Clips.
        y : None
            Ignored.

        Returns
        -------
        features : list of ndarray of float32 [shape=(T_i, n_features)], or \
                ndarray of float32 of shape (n_clips, T, n_features)
            The MFCCs (and deltas) of every clip, as :meth:`transform` returns
            them; ``n_features`` is ``n_features_out_``.
        """
        return self.fit(X).transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
