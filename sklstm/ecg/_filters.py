"""Removing baseline wander and high-frequency noise from ECG leads."""

from numbers import Real

import numpy as np
from scipy import ndimage, signal
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ECGFilter", "filter_ecg"]

# The two median windows of de Chazal et al. (2004): the first removes QRS
# complexes and P waves, the second T waves; what remains is the baseline.
_MEDIAN_WINDOWS = (0.2, 0.6)
# Cut-off of the baseline high-pass, in Hz.
_HIGHPASS = 0.5


def _odd(n):
    n = max(int(round(n)), 1)
    return n if n % 2 else n + 1


@validate_params(
    {
        "x": ["array-like"],
        "fs": [Interval(Real, 0, None, closed="neither")],
        "baseline": [StrOptions({"median", "highpass"}), None],
        "lowpass": [Interval(Real, 0, None, closed="neither"), None],
        "causal": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def filter_ecg(x, *, fs, baseline="highpass", lowpass=35.0, causal=False):
    """Remove baseline wander and high-frequency noise from ECG signals.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_signals, n_samples)
        One signal, or one per row. Filtering runs along the last axis.
    fs : float
        Sampling frequency in Hz.
    baseline : {"highpass", "median"} or None, default="highpass"
        ``"highpass"`` runs a zero-phase 2nd-order Butterworth high-pass at
        0.5 Hz; ``"median"`` subtracts the baseline estimated by two successive
        median filters of 200 ms and 600 ms (de Chazal et al., 2004), which
        leaves the line between beats at zero but follows a drift less closely
        under the waves (0.15 mV left of a 0.8 mV, 0.15 Hz drift, against
        0.007 mV for the high-pass); None keeps the baseline.
    lowpass : float or None, default=35.0
        Cut-off in Hz of a zero-phase 4th-order Butterworth low-pass against
        muscle noise and mains interference; None skips it (and so does a
        cut-off at or above ``fs / 2``).
    causal : bool, default=False
        Remove the baseline from the past alone, so that a sample's output
        never changes as more signal arrives (what a live monitor needs): the
        high-pass runs forwards only (from its steady state at the first
        sample), the median filters' windows end at the sample. Its phase
        shift is that of a 0.5 Hz filter: the slow waves (ST segment, T wave)
        move a little, the QRS not. The low-pass stays zero-phase: it reads
        about 30 ms ahead, less than any beat window does.

    Returns
    -------
    filtered : ndarray of float64 of shape (n_samples,) or (n_signals, n_samples)
        The filtered signal(s), the shape of ``x``.

    Raises
    ------
    ValueError
        For a signal that is empty, not 1D or 2D, not numbers, or holds NaN or
        infinity; and for a cut-off the filter cannot reach at ``fs`` (the
        0.5 Hz high-pass needs ``fs > 1``; a cut-off too small a fraction of
        ``fs`` gives an unstable filter).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(3600) / 360
    >>> drift = np.sin(2 * np.pi * 0.2 * t)
    >>> out = filter_ecg(drift, fs=360)
    >>> bool(np.abs(out[360:-360]).max() < 0.05 * np.abs(drift).max())
    True
    """
    x = check_array(x, ensure_2d=False, dtype=np.float64, ensure_min_samples=0, input_name="x")
    n = x.shape[-1]
    if n == 0:
        raise ValueError(f"x holds no samples (shape {x.shape}): nothing to filter.")
    if baseline == "highpass" and fs <= 2 * _HIGHPASS:
        raise ValueError(
            f"baseline='highpass' cuts at {_HIGHPASS} Hz, which needs fs > {2 * _HIGHPASS} Hz, "
            f"got fs={fs}."
        )
    out = x
    if baseline == "median":
        base = x
        for seconds in _MEDIAN_WINDOWS:
            # Over time only: size 1 across rows.
            width = min(_odd(seconds * fs), _odd(n))
            size = (1,) * (x.ndim - 1) + (width,)
            # Causal: the window shifted to end at the sample.
            origin = (0,) * (x.ndim - 1) + ((width // 2) if causal else 0,)
            base = ndimage.median_filter(base, size=size, origin=origin, mode="nearest")
        out = x - base
    elif baseline == "highpass":
        sos = signal.butter(2, _HIGHPASS, btype="highpass", fs=fs, output="sos")
        name = f"The {_HIGHPASS} Hz high-pass"
        out = _forward(sos, out, name, fs) if causal else _zero_phase(sos, out, name, fs)
    if lowpass is not None and lowpass < fs / 2:
        sos = signal.butter(4, lowpass, btype="lowpass", fs=fs, output="sos")
        out = _zero_phase(sos, out, f"The lowpass={lowpass} Hz filter", fs)
    return out


def _zero_phase(sos, x, name, fs):
    # sosfiltfilt pads by a few filter lengths; short signals get what they have.
    padlen = min(3 * (2 * len(sos) + 1), x.shape[-1] - 1)
    return _checked(lambda: signal.sosfiltfilt(sos, x, axis=-1, padlen=padlen), x, name, fs)


def _forward(sos, x, name, fs):
    # Started from the steady state of the first sample, as if the signal had
    # always been there: no step response at the start.
    zi = signal.sosfilt_zi(sos)
    zi = zi.reshape(zi.shape[:1] + (1,) * (x.ndim - 1) + zi.shape[1:])
    first = x[..., :1]
    return _checked(lambda: signal.sosfilt(sos, x, axis=-1, zi=zi * first)[0], x, name, fs)


def _checked(run, x, name, fs):
    try:
        with np.errstate(all="ignore"):
            out = run()
    except np.linalg.LinAlgError:
        out = None
    if out is None or not np.isfinite(out).all():
        peak = np.abs(x).max()
        cause = (
            f"samples up to {peak:.3g} overflow it"
            if peak > 1e150
            else f"its cut-off is too small a fraction of fs={fs:g} Hz for a stable filter"
        )
        raise ValueError(f"{name} cannot filter this signal: {cause}.")
    return out


class ECGFilter(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Transformer form of :func:`filter_ecg`: one signal per row.

    Stateless: ``fit`` only records the number of samples per row.

    Parameters
    ----------
    fs : float, default=360.0
        Sampling frequency in Hz (MIT-BIH's by default).
    baseline : {"highpass", "median"} or None, default="highpass"
        Baseline removal, see :func:`filter_ecg`.
    lowpass : float or None, default=35.0
        Low-pass cut-off in Hz, see :func:`filter_ecg`.
    causal : bool, default=False
        Remove the baseline from the past alone, see :func:`filter_ecg`.

    Attributes
    ----------
    n_features_in_ : int
        Samples per signal seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.ecg import ECGFilter
    >>> t = np.arange(3600) / 360
    >>> X = np.vstack([np.sin(2 * np.pi * 0.2 * t), np.ones_like(t)])
    >>> Xt = ECGFilter().fit_transform(X)
    >>> Xt.shape, bool(np.abs(Xt[:, 360:-360]).max() < 0.05)
    ((2, 3600), True)
    """

    _parameter_constraints: dict = {
        "fs": [Interval(Real, 0, None, closed="neither")],
        "baseline": [StrOptions({"median", "highpass"}), None],
        "lowpass": [Interval(Real, 0, None, closed="neither"), None],
        "causal": ["boolean"],
    }

    def __init__(self, *, fs=360.0, baseline="highpass", lowpass=35.0, causal=False):
        self.fs = fs
        self.baseline = baseline
        self.lowpass = lowpass
        self.causal = causal

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the input; nothing to learn.

        Parameters
        ----------
        X : array-like of shape (n_signals, n_samples)
            Signals, one per row.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The transformer.
        """
        validate_data(self, X, dtype=np.float64)
        return self

    def transform(self, X):
        """Filter each row.

        Parameters
        ----------
        X : array-like of shape (n_signals, n_samples)
            Signals, one per row.

        Returns
        -------
        X_filtered : ndarray of float64 of shape (n_signals, n_samples)
            The filtered signals, as :func:`filter_ecg` returns them.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return filter_ecg(
            X, fs=self.fs, baseline=self.baseline, lowpass=self.lowpass, causal=self.causal
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
