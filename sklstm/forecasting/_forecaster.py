"""LSTMForecaster: fit(series), predict(horizon) over windows and a multi-output regressor."""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ..regressor import LSTMRegressor
from ._windows import SlidingWindows, _is_collection, is_series

__all__ = ["LSTMForecaster"]


class LSTMForecaster(BaseEstimator):
    """Direct multi-step forecaster: one multi-output regression per window.

    :meth:`fit` cuts the series into windows with :class:`SlidingWindows`
    (all its preprocessing learned from these series only) and trains the
    regressor to map each window's lookback to its next ``horizon`` values at
    once. :meth:`predict` reads the window that ends the series (or any later
    history given to it) and maps the prediction back to series units, indexed
    after the history when it is a pandas Series.

    Training stops on a time-ordered validation split: the latest
    ``validation_fraction`` of each series' windows is held out (with the
    training windows whose targets overlap it dropped), the regressor trains
    one epoch at a time with ``partial_fit`` and the epoch with the lowest
    validation error is kept. A shuffled split, as regressors' own
    ``early_stopping`` makes, would validate on windows interleaved with the
    training ones and stop too late.

    Parameters
    ----------
    estimator : regressor, default=None
        A multi-output regressor, cloned before fitting. Those that take 3D
        input (``LSTMRegressor``) get windows of shape ``(n_windows, n_steps,
        n_features)``; others get them flattened to ``(n_windows, n_steps *
        n_features)``, so that lag features of the same windows feed e.g. a
        ``MultiOutputRegressor(HistGradientBoostingRegressor())``. None means
        ``LSTMRegressor()`` with its defaults (a convolutional front end from
        a lookback of 8 steps on). With early stopping, its ``max_iter`` (200 for
        ``"auto"``), ``tol`` and ``n_iter_no_change`` bound and stop the epochs,
        which step at its ``learning_rate_init``.
    lookback : int, default=24
        Input steps per window.
    horizon : int, default=1
        Steps forecast at once; the most :meth:`predict` can forecast.
    stride : int, default=1
        Steps between consecutive training windows.
    season : int, default=None
        Seasonal period to difference the series by before windowing (the
        model then learns the change from the seasonal naive forecast); None
        for no differencing.
    window_level : int, default=None
        Number of the latest input values whose mean is subtracted from each
        window's inputs and targets (and added back to its forecast). None
        subtracts nothing.
    patch_size : int, default=1
        Consecutive input steps merged into one recurrent step.
    validation_fraction : float or None, default=0.1
        Share of the latest windows of each series held out for early
        stopping; needs an estimator with ``partial_fit``. None fits the
        estimator once on all windows.

    Attributes
    ----------
    estimator_ : regressor
        The fitted regressor; with early stopping, as of its best epoch.
    windows_ : SlidingWindows
        The fitted window preparation.
    history_ : ndarray or pandas.Series of shape (n_history,), or list of such
        The end of each training series (``lookback + season`` values), which
        :meth:`predict` forecasts from by default.
    history_exog_ : ndarray of shape (n_history, n_exog), list of such, or None
        The exogenous features of :attr:`history_`.
    n_windows_ : int
        Number of windows cut from the training series (training and
        validation).
    n_iter_ : int or None
        Epochs trained with early stopping, else None.
    validation_losses_ : list of float or None
        Mean squared validation error after each epoch (in the standardized
        space the model is trained in), or None without early stopping.
    best_validation_loss_ : float or None
        The lowest of :attr:`validation_losses_`, or None.

    See Also
    --------
    SlidingWindows : The window preparation, usable on its own.
    sklstm.LSTMRegressor : The default regressor.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.forecasting import LSTMForecaster
    >>> t = np.arange(300)
    >>> index = pd.date_range("2024-01-01", periods=300, freq="h")
    >>> y = pd.Series(10 + np.sin(2 * np.pi * t / 24), index=index)
    >>> lstm = LSTMRegressor(
    ...     hidden_size=8, learning_rate_init=0.02, tol=1e-3, n_iter_no_change=3, random_state=0
    ... )
    >>> forecaster = LSTMForecaster(
    ...     lstm,
    ...     lookback=24, horizon=6, window_level=24, patch_size=6, stride=2,
    ... ).fit(y)
    >>> forecast = forecaster.predict(3)
    >>> forecast.index[0], len(forecast)
    (Timestamp('2024-01-13 12:00:00'), 3)
    >>> bool(np.abs(forecast - (10 + np.sin(2 * np.pi * np.arange(300, 303) / 24))).max() < 0.2)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "predict"])],
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "season": [None, Interval(Integral, 1, None, closed="left")],
        "window_level": [None, Interval(Integral, 1, None, closed="left")],
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        estimator=None,
        *,
        lookback=24,
        horizon=1,
        stride=1,
        season=None,
        window_level=None,
        patch_size=1,
        validation_fraction=0.1,
    ):
        self.estimator = estimator
        self.lookback = lookback
        self.horizon = horizon
        self.stride = stride
        self.season = season
        self.window_level = window_level
        self.patch_size = patch_size
        self.validation_fraction = validation_fraction

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, y, X=None):
        """Train the regressor on the windows of one or several series.

        Parameters
        ----------
        y : array-like or pandas.Series of shape (n_timesteps,), or list of such
            The training series.
        X : array-like of shape (n_timesteps, n_exog), or list of such, default=None
            Exogenous features aligned with each series (read over the lookback).

        Returns
        -------
        self : object
            The fitted forecaster.
        """
        estimator = LSTMRegressor() if self.estimator is None else clone(self.estimator)
        if self.validation_fraction is not None and not hasattr(estimator, "partial_fit"):
            raise ValueError(
                f"Early stopping trains epoch by epoch and {type(estimator).__name__} has "
                "no partial_fit: set validation_fraction=None."
            )
        self.windows_ = SlidingWindows(
            lookback=self.lookback,
            horizon=self.horizon,
            stride=self.stride,
            season=self.season,
            window_level=self.window_level,
            patch_size=self.patch_size,
        ).fit(y, X)
        inputs, targets, origins, series = self.windows_._windows(y, X)
        inputs = self._model_input(estimator, inputs)
        self.n_windows_ = len(inputs)
        if self.validation_fraction is None:
            estimator.fit(inputs, targets)
            self.n_iter_ = self.validation_losses_ = self.best_validation_loss_ = None
        else:
            train, valid = self._time_split(origins, series)
            estimator = self._fit_early_stopping(estimator, inputs, targets, train, valid)
        self.estimator_ = estimator
        self._keep_history(y, X)
        return self

    @staticmethod
    def _model_input(estimator, inputs):
        if get_tags(estimator).input_tags.three_d_array:
            return inputs
        return inputs.reshape(len(inputs), -1)

    def _time_split(self, origins, series):
        """Indices of training and validation windows: the latest of each series validate."""
        train, valid = [], []
        for i in np.unique(series):
            windows = np.flatnonzero(series == i)  # in time order
            n_valid = int(np.ceil(self.validation_fraction * len(windows)))
            cutoff = origins[windows[-n_valid]]
            valid.append(windows[-n_valid:])
            # A training window whose targets reach into the validation period
            # would let the model fit values it is then validated on.
            train.append(windows[origins[windows] + self.horizon <= cutoff])
        train, valid = np.concatenate(train), np.concatenate(valid)
        if len(train) == 0:
            raise ValueError(
                f"No training window is left before the validation windows of "
                f"validation_fraction={self.validation_fraction}: give longer series."
            )
        return train, valid

    def _fit_early_stopping(self, estimator, inputs, targets, train, valid):
        params = estimator.get_params()
        max_iter = params.get("max_iter", 200)
        if max_iter == "auto":
            # Epochs of partial_fit at a constant rate, which the validation error stops.
            max_iter = 200
        tol = params.get("tol", 1e-4)
        patience = params.get("n_iter_no_change", 10)
        if isinstance(params.get("random_state"), Integral):
            # partial_fit re-seeds from an int at every call, which would repeat
            # the same shuffling and dropout each epoch: draw from one generator.
            estimator.set_params(random_state=np.random.RandomState(params["random_state"]))
        x_train, y_train = inputs[train], targets[train]
        x_valid, y_valid = inputs[valid], targets[valid]
        losses, best, best_loss, stalled = [], None, np.inf, 0
        while len(losses) < max_iter and stalled <= patience:
            estimator.partial_fit(x_train, y_train)
            pred = estimator.predict(x_valid).reshape(y_valid.shape)
            losses.append(float(np.mean((pred - y_valid) ** 2)))
            # MLPRegressor's rule: an epoch that does not beat the best by tol
            # stalls (written so that a NaN loss stalls too).
            stalled = 0 if losses[-1] <= best_loss - tol else stalled + 1
            if losses[-1] < best_loss:
                best, best_loss = copy.deepcopy(estimator), losses[-1]
        if best is None:
            raise ValueError(
                "Training diverged: the validation error was never finite. Lower the "
                "learning rate or set clip_grad_norm."
            )
        if stalled <= patience:
            warnings.warn(
                f"Maximum epochs ({max_iter}) reached and the validation error has not "
                "stopped improving.",
                ConvergenceWarning,
            )
        self.n_iter_ = len(losses)
        self.validation_losses_ = losses
        self.best_validation_loss_ = best_loss
        return best

    def _keep_history(self, y, X):
        """Keep the end of each series (and its features): what forecasting reads."""
        n = self.windows_._min_history
        several = _is_collection(y)
        ys = list(y) if several else [y]
        Xs = (list(X) if several else [X]) if X is not None else [None] * len(ys)
        history, history_exog = [], []
        for series, exog in zip(ys, Xs):
            if is_series(series):
                import pandas as pd

                tail = series.iloc[-n:]
                if isinstance(series.index, pd.DatetimeIndex) and series.index.freq is None:
                    # A short tail may not show its frequency: infer it from the whole.
                    tail = tail.copy()
                    freq = pd.DatetimeIndex(series.index, freq="infer").freq
                    tail.index = pd.DatetimeIndex(tail.index, freq=freq)
            else:
                tail = np.asarray(series, dtype=np.float64)[-n:]
            history.append(tail)
            history_exog.append(None if exog is None else np.asarray(exog, dtype=np.float64)[-n:])
        self.history_ = history if several else history[0]
        if X is None:
            self.history_exog_ = None
        else:
            self.history_exog_ = history_exog if several else history_exog[0]

    def predict(self, horizon=None, *, y=None, X=None):
        """Forecast the steps that follow the training series, or another history.

        Parameters
        ----------
        horizon : int, default=None
            Number of steps to forecast, at most the ``horizon`` the model was
            fitted for (None: all of them).
        y : array-like or pandas.Series of shape (n_timesteps,), or list of such, \
                default=None
            History to forecast from instead of the end of the training series:
            e.g. the same series observed up to a later origin, which the model
            reads without being refitted. At least ``lookback + season`` values.
        X : array-like of shape (n_timesteps, n_exog), or list of such, default=None
            Exogenous features aligned with ``y``; required when ``fit`` had some.

        Returns
        -------
        forecast : ndarray or pandas.Series of shape (horizon,), or list of such
            The forecast; a Series indexed after the history's index when the
            history is a Series, a list when several series are forecast.
        """
        check_is_fitted(self, "estimator_")
        if horizon is None:
            horizon = self.horizon
        if not isinstance(horizon, Integral) or not 1 <= horizon <= self.horizon:
            raise ValueError(
                f"horizon must be an int in [1, {self.horizon}] (the fitted horizon), "
                f"got {horizon!r}."
            )
        if y is None:
            if X is not None:
                raise ValueError("X was given without y: give the history they both cover.")
            y, X = self.history_, self.history_exog_
        elif X is None and self.windows_.n_exog_:
            raise ValueError(
                f"This forecaster was fitted with {self.windows_.n_exog_} "
                "exogenous features: pass X with y."
            )
        inputs = self._model_input(self.estimator_, self.windows_.transform_last(y, X))
        pred = self.estimator_.predict(inputs).reshape(len(inputs), -1)
        return self.windows_.inverse_transform(pred[:, :horizon], y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
