"""Supervised windows from time series, and the way back from window predictions to forecasts.

A window at *origin* ``o`` pairs the ``lookback`` steps before ``o`` (inputs)
with the ``horizon`` steps from ``o`` on (targets): a direct multi-step
forecast is one multi-output regression per window. :func:`make_windows` cuts
the windows exactly; :class:`SlidingWindows` adds what forecasting needs around
them, each fitted on the training part only: seasonal differencing,
standardization, a per-window level and patches of steps, and the inverse of
all that for predictions.
"""

import sys
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

__all__ = ["SlidingWindows", "make_windows"]


@validate_params(
    {
        "y": ["array-like"],
        "X": ["array-like", None],
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_windows(y, X=None, *, lookback, horizon, stride=1):
    """Cut one series into (inputs, targets) windows for direct multi-step forecasting.

    The window at origin ``o`` has inputs ``y[o - lookback:o]`` (with the
    exogenous features ``X[o - lookback:o]`` beside them) and targets
    ``y[o:o + horizon]``. Origins run every ``stride`` steps, aligned on the end
    of the series, so that the most recent window is always included.

    Parameters
    ----------
    y : array-like of shape (n_timesteps,)
        The series.
    X : array-like of shape (n_timesteps, n_exog), default=None
        Exogenous features aligned with ``y``, read over the lookback only.
    lookback : int
        Steps of input per window.
    horizon : int
        Steps of target per window.
    stride : int, default=1
        Steps between consecutive origins.

    Returns
    -------
    inputs : ndarray of shape (n_windows, lookback, 1 + n_exog)
        The series first, then the exogenous features, at each input step.
    targets : ndarray of shape (n_windows, horizon)
        The values to forecast.
    origins : ndarray of int of shape (n_windows,)
        Position of each window's first target step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.forecasting import make_windows
    >>> inputs, targets, origins = make_windows(np.arange(7.0), lookback=3, horizon=2, stride=2)
    >>> inputs[:, :, 0]
    array([[0., 1., 2.],
           [2., 3., 4.]])
    >>> targets
    array([[3., 4.],
           [5., 6.]])
    >>> origins
    array([3, 5])
    """
    y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_min_samples=0, input_name="y")
    if y.ndim != 1:
        raise ValueError(f"y must be one series of shape (n_timesteps,), got shape {y.shape}.")
    if X is None:
        values = y[:, None]
    else:
        X = check_array(X, dtype=np.float64, ensure_min_samples=0, input_name="X")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} values.")
        values = np.column_stack([y, X])
    return _cut_windows(y, values, lookback=lookback, horizon=horizon, stride=stride)


def _cut_windows(y, values, *, lookback, horizon, stride):
    """:func:`make_windows` of validated arrays: ``values`` holds ``y`` and its features."""
    # Every origin from the last possible one backwards, so the end is never skipped.
    origins = np.arange(len(y) - horizon, lookback - 1, -stride)[::-1]
    inputs = values[origins[:, None] + np.arange(-lookback, 0)]
    targets = y[origins[:, None] + np.arange(horizon)]
    return inputs, targets, origins


def _mean_std(values):
    """Mean and standard deviation of each column, without overflow for huge values."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = values.mean(axis=0), values.std(axis=0)
    if np.isfinite(mean).all() and np.isfinite(std).all():
        return mean, std
    # Squares (or sums) beyond float64: the same statistics of the values scaled down.
    peak = np.abs(values).max(axis=0)
    peak[peak == 0] = 1.0
    scaled = values / peak
    return scaled.mean(axis=0) * peak, scaled.std(axis=0) * peak


def _is_collection(y):
    """Whether ``y`` is several series (a list or tuple of array-likes) rather than one."""
    return isinstance(y, list | tuple) and len(y) > 0 and np.ndim(y[0]) > 0


def check_series(y, X=None):
    """Validate one series or several, with their exogenous features.

    Returns ``(ys, Xs, several)``: a list of 1D float arrays, a list of 2D float
    arrays (or of None), and whether ``y`` was a collection. NaN and infinite
    values are refused: windows would silently carry them into the model.
    """
    several = _is_collection(y)
    ys = list(y) if several else [y]
    if X is None:
        Xs = [None] * len(ys)
    else:
        Xs = list(X) if several else [X]
        if len(Xs) != len(ys):
            raise ValueError(f"Got {len(ys)} series but {len(Xs)} exogenous arrays.")
    out_y, out_X = [], []
    for series, exog in zip(ys, Xs):
        series = check_array(
            series, ensure_2d=False, dtype=np.float64, input_name="y", ensure_min_samples=1
        )
        if series.ndim != 1:
            raise ValueError(f"Each series must be 1D, got shape {series.shape}.")
        if exog is not None:
            exog = check_array(exog, dtype=np.float64, input_name="X")
            if len(exog) != len(series):
                raise ValueError(
                    f"X has {len(exog)} rows but its series has {len(series)} values."
                )
        out_y.append(series)
        out_X.append(exog)
    return out_y, out_X, several


def is_series(obj):
    """Whether ``obj`` is a pandas Series; pandas is not a dependency, nor imported for this."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.Series)


def future_index(index, horizon):
    """The ``horizon`` index labels that follow a pandas ``index``.

    Continues a RangeIndex, a PeriodIndex, or a DatetimeIndex by its frequency
    (set or inferred); any other index has no defined continuation.
    """
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        stop = index.start + index.step * len(index)
        return pd.RangeIndex(stop, stop + index.step * horizon, index.step)
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq)
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq or (
            pd.DatetimeIndex(index, freq="infer").freq if len(index) >= 3 else None
        )
        if freq is None:
            raise ValueError(
                "The series' DatetimeIndex has no frequency and none can be inferred; "
                "set one with series.asfreq(...)."
            )
        return pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:]
    raise ValueError(
        f"Cannot continue a {type(index).__name__} into the future: use a RangeIndex, "
        "a DatetimeIndex with a frequency or a PeriodIndex."
    )


class SlidingWindows(BaseEstimator):
    """Prepare series as windows for a multi-output regressor, and forecasts back.

    The steps, each invertible and each learned from the series given to
    :meth:`fit` only (the training part: nothing from the future leaks into
    the scaling):

    1. with ``season``, the series is seasonally differenced,
       ``d[t] = y[t] - y[t - season]``, so that the model learns the change
       from one season earlier (the seasonal naive forecast) instead of the
       seasonal shape itself;
    2. the (differenced) series and every exogenous feature are standardized
       with the mean and standard deviation of the training part;
    3. windows are cut (:func:`make_windows`);
    4. with ``window_level``, the mean of the last ``window_level`` input
       values of the series is each window's local level, subtracted from its
       inputs and targets, so that the model sees shapes around the current
       level, and a level it never saw in training is carried over instead of
       squashed by saturating units;
    5. with ``patch_size > 1``, every ``patch_size`` consecutive input steps
       become one step of ``patch_size * n_features`` values, so that a
       recurrent network reads a long lookback in few steps.

    Parameters
    ----------
    lookback : int, default=24
        Input steps per window (before patching).
    horizon : int, default=1
        Target steps per window: how far ahead the model forecasts.
    stride : int, default=1
        Steps between consecutive training windows' origins (aligned on the
        end of each series).
    season : int, default=None
        Seasonal period to difference by; None leaves the series as it is.
    window_level : int, default=None
        Number of the latest input values whose mean is subtracted per window;
        at most ``lookback``. None subtracts nothing.
    patch_size : int, default=1
        Input steps merged into one; must divide ``lookback``.

    Attributes
    ----------
    mean_ : float
        Mean of the (differenced) training series.
    scale_ : float
        Standard deviation of the (differenced) training series (1 when
        constant).
    exog_mean_ : ndarray of shape (`n_exog_`,)
        Mean of each exogenous feature over the training part.
    exog_scale_ : ndarray of shape (`n_exog_`,)
        Standard deviation of each exogenous feature (1 when constant).
    n_exog_ : int
        Number of exogenous features (0 without ``X``).

    See Also
    --------
    make_windows : The windows alone, without any transformation.
    LSTMForecaster : A forecaster built on these windows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.forecasting import SlidingWindows
    >>> y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    >>> windows = SlidingWindows(lookback=3, horizon=2, window_level=1).fit(y)
    >>> inputs, targets = windows.transform(y)
    >>> inputs.shape, targets.shape
    ((4, 3, 1), (4, 2))
    >>> windows.inverse_transform(targets[-1:], y[:-2])  # the last window's targets back
    array([7., 8.])
    """

    _parameter_constraints: dict = {
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "season": [None, Interval(Integral, 1, None, closed="left")],
        "window_level": [None, Interval(Integral, 1, None, closed="left")],
        "patch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, *, lookback=24, horizon=1, stride=1, season=None, window_level=None, patch_size=1
    ):
        self.lookback = lookback
        self.horizon = horizon
        self.stride = stride
        self.season = season
        self.window_level = window_level
        self.patch_size = patch_size

    @property
    def _min_history(self):
        """Values needed before an origin: the lookback plus one season to difference."""
        return self.lookback + (self.season or 0)

    def _check_params(self):
        if self.window_level is not None and self.window_level > self.lookback:
            raise ValueError(f"window_level={self.window_level} exceeds lookback={self.lookback}.")
        if self.lookback % self.patch_size:
            raise ValueError(f"patch_size={self.patch_size} must divide lookback={self.lookback}.")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, y, X=None):
        """Learn the standardization from the training part.

        Parameters
        ----------
        y : array-like of shape (n_timesteps,), or list of such
            The training series (one or several).
        X : array-like of shape (n_timesteps, n_exog), or list of such, default=None
            Exogenous features aligned with each series.

        Returns
        -------
        self : object
            The fitted windows.
        """
        self._check_params()
        ys, Xs, _ = check_series(y, X)
        if any(len(s) < self._min_history + self.horizon for s in ys):
            shortest = min(len(s) for s in ys)
            raise ValueError(
                f"A series of {shortest} values is too short for one window: it needs "
                f"lookback + season + horizon = {self._min_history + self.horizon}."
            )
        if len({x is None for x in Xs}) > 1 or len({x.shape[1] for x in Xs if x is not None}) > 1:
            raise ValueError("Give exogenous features with the same columns for every series.")
        diffs = np.concatenate([self._difference(s) for s in ys])
        if not np.isfinite(diffs).all():
            raise ValueError(
                f"y: the seasonal differences (season={self.season}) of values up to "
                f"{max(np.abs(s).max() for s in ys):.3g} overflow float64."
            )
        mean, scale = _mean_std(diffs[:, None])
        self.mean_ = float(mean[0])
        self.scale_ = float(scale[0]) or 1.0
        if Xs[0] is None:
            self.n_exog_ = 0
            self.exog_mean_ = self.exog_scale_ = np.zeros(0)
        else:
            exog = np.concatenate(Xs)
            self.n_exog_ = exog.shape[1]
            self.exog_mean_, scale = _mean_std(exog)
            self.exog_scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def _difference(self, y):
        """The seasonally differenced values, from the first one that can be differenced."""
        return y if self.season is None else y[self.season :] - y[: -self.season]

    def _check_exog(self, Xs):
        n_exog = 0 if Xs[0] is None else Xs[0].shape[1]
        if n_exog != self.n_exog_:
            raise ValueError(f"X has {n_exog} exogenous features, but fit had {self.n_exog_}.")

    def _scaled(self, y, X):
        """The model-space values ``(n_valid, 1 + n_exog)`` and the offset of their first step."""
        offset = self.season or 0
        with np.errstate(over="ignore", invalid="ignore"):
            z = (self._difference(y) - self.mean_) / self.scale_
            zx = None if X is None else (X[offset:] - self.exog_mean_) / self.exog_scale_
        if not np.isfinite(z).all() or (zx is not None and not np.isfinite(zx).all()):
            raise ValueError(
                "y or X holds values too far from the training data's for float64 once "
                f"standardized (training mean {self.mean_:.3g}, scale {self.scale_:.3g})."
            )
        return z, zx, offset

    def _finish(self, inputs, targets):
        """Subtract each window's level, patch the inputs; return the levels too."""
        level = np.zeros(len(inputs))
        if self.window_level is not None:
            # The level reads the same input values in training and in forecasting.
            level = inputs[:, -self.window_level :, 0].mean(axis=1)
            inputs[:, :, 0] -= level[:, None]
            if targets is not None:
                targets = targets - level[:, None]
        n, T, F = inputs.shape
        inputs = inputs.reshape(n, T // self.patch_size, self.patch_size * F)
        return inputs, targets, level

    def _windows(self, y, X=None):
        """All training windows with their origins and series numbers."""
        check_is_fitted(self, "mean_")
        ys, Xs, _ = check_series(y, X)
        self._check_exog(Xs)
        parts = []
        for i, (series, exog) in enumerate(zip(ys, Xs)):
            z, zx, offset = self._scaled(series, exog)
            if len(z) < self.lookback + self.horizon:
                continue
            values = z[:, None] if zx is None else np.column_stack([z, zx])
            inputs, targets, origins = _cut_windows(
                z, values, lookback=self.lookback, horizon=self.horizon, stride=self.stride
            )
            inputs, targets, _ = self._finish(inputs, targets)
            parts.append((inputs, targets, origins + offset, np.full(len(origins), i)))
        if not parts:
            raise ValueError(
                f"No series is long enough for one window (lookback + season + horizon = "
                f"{self._min_history + self.horizon} values)."
            )
        return tuple(np.concatenate(p) for p in zip(*parts))

    def transform(self, y, X=None):
        """Cut the series into prepared training windows.

        Parameters
        ----------
        y : array-like of shape (n_timesteps,), or list of such
            Series (one or several); series too short for a window are skipped.
        X : array-like of shape (n_timesteps, n_exog), or list of such, default=None
            Exogenous features aligned with each series.

        Returns
        -------
        inputs : ndarray of shape (n_windows, lookback // patch_size, \
                patch_size * (1 + n_exog))
            Model inputs, series after series, in time order.
        targets : ndarray of shape (n_windows, horizon)
            Model targets.
        """
        inputs, targets, _, _ = self._windows(y, X)
        return inputs, targets

    def transform_last(self, y, X=None):
        """The input window that ends with each series, to forecast what follows.

        Parameters
        ----------
        y : array-like of shape (n_timesteps,), or list of such
            History of each series: at least ``lookback + season`` values.
        X : array-like of shape (n_timesteps, n_exog), or list of such, default=None
            Exogenous features aligned with each history.

        Returns
        -------
        inputs : ndarray of shape (n_series, lookback // patch_size, \
                patch_size * (1 + n_exog))
            One window per series.
        """
        check_is_fitted(self, "mean_")
        ys, Xs, _ = check_series(y, X)
        self._check_exog(Xs)
        windows = []
        for series, exog in zip(ys, Xs):
            if len(series) < self._min_history:
                raise ValueError(
                    f"A history of {len(series)} values is too short: forecasting needs "
                    f"lookback + season = {self._min_history}."
                )
            z, zx, _ = self._scaled(series, exog)
            values = z[:, None] if zx is None else np.column_stack([z, zx])
            windows.append(values[-self.lookback :])
        inputs, _, _ = self._finish(np.stack(windows), None)
        return inputs

    def inverse_transform(self, y_pred, y):
        """Turn predictions for the windows of :meth:`transform_last` into forecasts.

        Parameters
        ----------
        y_pred : array-like of shape (n_series, n_steps)
            Model outputs, one row per series; ``n_steps <= horizon`` (the first
            columns of a prediction forecast the first steps).
        y : array-like of shape (n_timesteps,), or list of such
            The histories the windows were cut from.

        Returns
        -------
        forecast : ndarray or pandas.Series of shape (n_steps,), or list of such
            The forecast of the steps that follow each history, in series units;
            a Series indexed after the history's index when the history is a
            Series; a list when ``y`` is.
        """
        check_is_fitted(self, "mean_")
        ys, _, several = check_series(y)
        originals = list(y) if several else [y]
        y_pred = check_array(y_pred, ensure_2d=False, dtype=np.float64, input_name="y_pred")
        if y_pred.ndim > 2 or y_pred.size % len(ys) or y_pred.size // len(ys) > self.horizon:
            raise ValueError(
                f"y_pred must have one row of at most horizon={self.horizon} steps per "
                f"series ({len(ys)}), got shape {y_pred.shape}."
            )
        y_pred = y_pred.reshape(len(ys), -1)
        need = (self.season or 0) + (self.window_level or 0)
        if any(len(s) < need for s in ys):
            raise ValueError(
                f"A history of {min(len(s) for s in ys)} values is too short to undo the "
                f"preprocessing: it needs season + window_level = {need}."
            )
        if self.window_level is not None:
            levels = [
                (self._difference(s)[-self.window_level :] - self.mean_) / self.scale_ for s in ys
            ]
            y_pred = y_pred + np.mean(levels, axis=1)[:, None]
        diffs = y_pred * self.scale_ + self.mean_
        forecasts = []
        for series, original, diff in zip(ys, originals, diffs):
            if self.season is not None:
                # Undo the differencing step by step: beyond one season, the value
                # one season earlier is itself a forecast.
                path = np.concatenate([series[-self.season :], np.empty(len(diff))])
                for h in range(len(diff)):
                    path[self.season + h] = diff[h] + path[h]
                diff = path[self.season :]
            if is_series(original):
                index = future_index(original.index, len(diff))
                diff = type(original)(diff, index=index, name=original.name)
            forecasts.append(diff)
        if not all(np.isfinite(np.asarray(f, dtype=np.float64)).all() for f in forecasts):
            raise ValueError(
                "The forecast overflows float64: y_pred is too far out for the series' scale "
                f"({self.scale_:.3g})."
            )
        return forecasts if several else forecasts[0]
