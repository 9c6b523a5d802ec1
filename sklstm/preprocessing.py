"""Transformers for sequences: standardization, causal mean normalization,
fixed-length padding, and the channels-first layout of aeon and sktime."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._sequences import validate_sequences

__all__ = ["FromChannelsFirst", "PadTruncate", "RunningMeanNormalizer", "SequenceScaler"]

# Transformers keep float64 and float32 as they come; anything else becomes float64.
_FLOATS = (np.float64, np.float32)


class SequenceScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize each feature over all valid time steps of all sequences.

    Every step's feature ``k`` becomes ``(x - mean_[k]) / scale_[k]``, with the
    mean and standard deviation taken over every time step of every training
    sequence (padding does not exist here: ragged sequences are used as they
    are). 2D input is a set of univariate series and gets one mean and scale.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean.
    with_std : bool, default=True
        Divide by the standard deviation (features with zero variance are left
        unscaled).

    Attributes
    ----------
    mean_ : ndarray of shape (n_step_features,) or None
        Per-feature mean over all time steps; None when ``with_mean=False``.
    var_ : ndarray of shape (n_step_features,) or None
        Per-feature variance over all time steps; None when ``with_std=False``.
    scale_ : ndarray of shape (n_step_features,) or None
        Per-feature scale; None when ``with_std=False``.
    n_steps_seen_ : int
        Number of time steps the statistics were computed over.
    n_features_in_ : int
        Features per time step seen in ``fit`` (for 2D input, its columns).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tabular data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import SequenceScaler
    >>> X = [np.array([[0.0, 10.0], [2.0, 30.0]]), np.array([[4.0, 20.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_
    array([ 2., 20.])
    >>> [x.round(3).tolist() for x in scaler.transform(X)]
    [[[-1.225, -1.225], [0.0, 1.225]], [[1.225, 0.0]]]
    """

    _parameter_constraints: dict = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, *, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the per-feature mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted scaler.
        """
        data = validate_sequences(self, X, reset=True, dtype=_FLOATS).data.astype(np.float64)
        self.n_steps_seen_ = data.shape[0]
        self.mean_ = data.mean(axis=0) if self.with_mean else None
        if self.with_std:
            self.var_ = data.var(axis=0)
            # Constant features would become inf or NaN; leave them unscaled.
            self.scale_ = np.where(np.ptp(data, axis=0) > 0, np.sqrt(self.var_), 1.0)
        else:
            self.var_ = self.scale_ = None
        return self

    def transform(self, X):
        """Standardize sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            In the input's format: 3D array, list of arrays, or 2D array.
        """
        return self._affine(X, inverse=False)

    def inverse_transform(self, X):
        """Undo the standardization.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Standardized sequences.

        Returns
        -------
        X_original : ndarray or list of ndarray
            In the input's format.
        """
        return self._affine(X, inverse=True)

    def _affine(self, X, *, inverse):
        check_is_fitted(self)
        seqs = validate_sequences(self, X, reset=False, dtype=_FLOATS)
        dtype = seqs.data.dtype
        shift = np.zeros(1) if self.mean_ is None else self.mean_
        scale = np.ones(1) if self.scale_ is None else self.scale_
        if inverse:
            data = seqs.data * scale.astype(dtype) + shift.astype(dtype)
        else:
            data = (seqs.data - shift.astype(dtype)) / scale.astype(dtype)
        return seqs.with_data(np.asarray(data, dtype=dtype)).to_output()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class RunningMeanNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Subtract from each step the running mean of its sequence so far (causal).

    Step ``t`` becomes ``x_t - m_t``, where ``m_t`` is the mean of steps ``0``
    to ``t`` for the first ``window`` steps, then an exponential moving average
    with weight ``1 / window`` (``m_t = m_{t-1} + (x_t - m_{t-1}) / window``).
    With a ``prior``, the mean starts as the training steps' mean ``mean_``
    counted as ``prior`` steps (``m_t = (prior * mean_ + x_0 + ... + x_t) /
    (prior + t + 1)`` for the first ``window - prior`` steps, then the moving
    average): the first steps of a sequence are then measured against what
    sequences usually hold, not against themselves alone.
    Each step depends on the steps before it alone, so a stream can apply it
    as the steps arrive (:meth:`stream`) and get exactly what :meth:`transform`
    gives the whole sequence. On MFCCs this is online cepstral mean
    normalization: it removes the slowly varying colour of a microphone, a
    room or a voice, as per-utterance mean normalization does, without
    waiting for the utterance to end.

    Parameters
    ----------
    window : int, default=100
        Steps of the plain mean, and the time constant of the moving average
        after it (100 MFCC frames of 20 ms: 2 s).
    prior : int, default=0
        Weight, in steps, of ``mean_`` at the start of every sequence (less
        than ``window``); 0 starts from the sequence's first step alone.

    Attributes
    ----------
    mean_ : ndarray of shape (n_step_features,)
        Mean of every step of the training sequences.
    n_features_in_ : int
        Features per time step seen in ``fit`` (for 2D input, its columns).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.

    See Also
    --------
    sklstm.audio.MFCC : ``normalize="mean"`` subtracts each whole clip's mean.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import RunningMeanNormalizer
    >>> X = [np.array([[1.0], [3.0], [5.0], [7.0]])]
    >>> RunningMeanNormalizer(window=2).fit_transform(X)[0].ravel().tolist()
    [0.0, 1.0, 1.5, 1.75]
    """

    _parameter_constraints: dict = {
        "window": [Interval(Integral, 1, None, closed="left")],
        "prior": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, window=100, prior=0):
        self.window = window
        self.prior = prior

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the mean of all steps (the start of the running mean with a ``prior``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        if self.prior >= self.window:
            raise ValueError(f"prior={self.prior} must be less than window={self.window}.")
        data = validate_sequences(self, X, reset=True, dtype=_FLOATS).data
        self.mean_ = data.astype(np.float64).mean(axis=0)
        return self

    def transform(self, X):
        """Subtract each sequence's running mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        X_normalized : ndarray or list of ndarray
            In the input's format: 3D array, list of arrays, or 2D array.
        """
        check_is_fitted(self)
        seqs = validate_sequences(self, X, reset=False, dtype=_FLOATS)
        data = np.empty_like(seqs.data)
        for a, b in zip(seqs.offsets[:-1], seqs.offsets[1:]):
            data[a:b] = self.stream().update(seqs.data[a:b])
        return seqs.with_data(data).to_output()

    def stream(self):
        """A state that normalizes one sequence fed a chunk of steps at a time.

        Returns
        -------
        state : object
            ``state.update(steps)`` takes the next steps ``(n_steps,
            n_features)`` and returns them normalized, exactly as
            :meth:`transform` does them in the whole sequence.
        """
        check_is_fitted(self)
        return _RunningMean(self.window, self.mean_, self.prior)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class _RunningMean:
    """The running mean of one sequence, carried from one chunk of steps to the next."""

    def __init__(self, window, mean, prior):
        self.window = window
        self.count = prior
        self.mean = np.array(mean, dtype=np.float64) if prior else np.zeros(len(mean))

    def update(self, steps):
        from scipy.signal import lfilter

        steps = np.asarray(steps)
        means = np.empty(steps.shape)
        i = 0
        # Step by step while the plain mean lasts: the same operations in the same
        # order for any chunking, so chunks give the whole sequence's values exactly.
        while self.count < self.window and i < len(steps):
            self.count += 1
            self.mean = self.mean + (steps[i] - self.mean) / self.count
            means[i] = self.mean
            i += 1
        if i < len(steps):
            weight = 1.0 / self.window
            means[i:], _ = lfilter(
                [weight], [1.0, weight - 1.0], steps[i:], axis=0,
                zi=((1.0 - weight) * self.mean)[None, :],
            )  # fmt: skip
            self.mean = means[-1]
        return (steps - means).astype(steps.dtype)


class PadTruncate(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Pad or cut every sequence to one length, giving a 3D array.

    For models or tools that need fixed-length input (``LSTMClassifier`` does
    not: it takes ragged lists as they are, and padding added here becomes
    part of each sequence).

    Parameters
    ----------
    length : int, default=None
        Target length; the longest training sequence when None.
    padding : {"post", "pre"}, default="post"
        Add ``value`` after (``"post"``) or before (``"pre"``) short sequences.
    truncating : {"post", "pre"}, default="post"
        Drop the steps after (``"post"``) or before (``"pre"``) the first
        ``length`` of long sequences. ``"pre"`` keeps the most recent steps.
    value : float, default=0.0
        Padding value.

    Attributes
    ----------
    length_ : int
        The length every sequence is given.
    n_features_in_ : int
        Features per time step seen in ``fit`` (for 2D input, its columns).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import PadTruncate
    >>> X = [np.ones((2, 1)), np.ones((4, 1))]
    >>> PadTruncate(length=3).fit_transform(X)[:, :, 0]
    array([[1., 1., 0.],
           [1., 1., 1.]])
    """

    _parameter_constraints: dict = {
        "length": [None, Interval(Integral, 1, None, closed="left")],
        "padding": [StrOptions({"pre", "post"})],
        "truncating": [StrOptions({"pre", "post"})],
        "value": [Real],
    }

    def __init__(self, *, length=None, padding="post", truncating="post", value=0.0):
        self.length = length
        self.padding = padding
        self.truncating = truncating
        self.value = value

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Set the target length.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        seqs = validate_sequences(self, X, reset=True, dtype=_FLOATS)
        self.length_ = int(seqs.lengths.max()) if self.length is None else self.length
        return self

    @property
    def _n_features_out(self):
        return self.length_ if self._fit_ndim == 2 else self.length_ * self._n_step_features

    def transform(self, X):
        """Pad or cut the sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        X_fixed : ndarray of shape (n_samples, `length_`, n_features) or (n_samples, `length_`)
            3D, or 2D for 2D input.
        """
        check_is_fitted(self)
        seqs = validate_sequences(self, X, reset=False, dtype=_FLOATS)
        n, L = seqs.n_sequences, self.length_
        lengths = np.minimum(seqs.lengths, L)
        # Source step of each kept step, and where it lands in the output.
        skip = np.where(self.truncating == "pre", seqs.lengths - lengths, 0)
        shift = np.where(self.padding == "pre", L - lengths, 0)
        steps = np.arange(L)
        valid = steps < lengths[:, None]
        rows = (seqs.offsets[:-1] + skip)[:, None] + steps
        cols = shift[:, None] + steps
        out = np.full((n, L, seqs.n_features), self.value, dtype=seqs.data.dtype)
        out[np.nonzero(valid)[0], cols[valid]] = seqs.data[rows[valid]]
        return out[:, :, 0] if seqs.ndim == 2 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class FromChannelsFirst(TransformerMixin, BaseEstimator):
    """Read aeon's and sktime's channels-first series into sklstm's time-major layout.

    aeon and sktime hold a collection of series as a 3D array ``(n_cases,
    n_channels, n_timepoints)`` or, for unequal lengths, a list of
    ``(n_channels, n_timepoints_i)`` arrays; sklstm's estimators read
    ``(n_samples, n_timesteps, n_features)`` and lists of ``(n_timesteps_i,
    n_features)`` arrays. This transformer swaps the last two axes, and says so
    explicitly: the layout is never guessed from the shapes, which are
    ambiguous whenever a series has as many steps as channels. 2D input
    (univariate series, one per row) means the same in both layouts and passes
    unchanged.

    Put it first in a pipeline: ``make_pipeline(FromChannelsFirst(),
    SequenceScaler(), LSTMClassifier())``.

    Attributes
    ----------
    n_features_in_ : int
        Channels of each series seen in ``fit`` (for 2D input, its columns).

    See Also
    --------
    SequenceScaler : Standardize the sequences next.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import FromChannelsFirst
    >>> X = np.zeros((5, 3, 100))  # aeon: 5 series, 3 channels, 100 time points
    >>> FromChannelsFirst().fit_transform(X).shape
    (5, 100, 3)
    >>> ragged = [np.zeros((3, 40)), np.zeros((3, 25))]
    >>> [x.shape for x in FromChannelsFirst().fit_transform(ragged)]
    [(40, 3), (25, 3)]
    """

    _parameter_constraints: dict = {}

    def __init__(self):
        pass

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the number of channels.

        Parameters
        ----------
        X : array-like of shape (n_cases, n_channels, n_timepoints), list of \
                arrays of shape (n_channels, n_timepoints_i), or array-like of \
                shape (n_cases, n_timepoints)
            Series in the channels-first layout.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._swap(X, reset=True)
        return self

    def transform(self, X):
        """Swap channels and time.

        Parameters
        ----------
        X : array-like of shape (n_cases, n_channels, n_timepoints), list of \
                arrays of shape (n_channels, n_timepoints_i), or array-like of \
                shape (n_cases, n_timepoints)
            Series in the channels-first layout.

        Returns
        -------
        X_time_major : ndarray of shape (n_cases, n_timepoints, n_channels), \
                list of ndarray of shape (n_timepoints_i, n_channels), or the 2D input
            The same series, time before channels.
        """
        check_is_fitted(self)
        return self._swap(X, reset=False)

    def inverse_transform(self, X):
        """Swap back to channels-first.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_timesteps, n_features), list of \
                ndarray of shape (n_timesteps_i, n_features), or 2D array
            Time-major sequences.

        Returns
        -------
        X_channels_first : ndarray or list of ndarray
            The same series, channels before time.
        """
        check_is_fitted(self)
        return self._swap(X, reset=False, inverse=True)

    def _swap(self, X, *, reset, inverse=False):
        channel_axis = -1 if inverse else 0  # of each series
        if isinstance(X, (list, tuple)) and len(X) and np.asarray(X[0]).ndim == 2:
            series = [np.asarray(x) for x in X]
            for i, x in enumerate(series):
                if x.ndim != 2:
                    raise ValueError(
                        f"Series {i} has shape {x.shape}; each series must be a 2D array "
                        "(n_channels, n_timepoints)."
                    )
            self._check_channels({x.shape[channel_axis] for x in series}, reset)
            return [np.ascontiguousarray(x.T) for x in series]
        if hasattr(X, "__array__") and np.asarray(X).ndim == 3:
            X = np.asarray(X)
            self._check_channels({X.shape[2 if inverse else 1]}, reset)
            return np.ascontiguousarray(X.transpose(0, 2, 1))
        # 2D: univariate series, one per row, in both layouts.
        return validate_data(self, X, reset=reset, dtype=_FLOATS)

    def _check_channels(self, channels, reset):
        if len(channels) != 1:
            raise ValueError(f"The series have different numbers of channels: {sorted(channels)}.")
        (n_channels,) = channels
        if reset:
            self.n_features_in_ = n_channels
        elif n_channels != self.n_features_in_:
            raise ValueError(
                f"X has {n_channels} channels, but FromChannelsFirst was fitted with "
                f"{self.n_features_in_}."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
