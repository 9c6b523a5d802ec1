"""LSTMForecaster: scikit-learn API, time-ordered early stopping, forecasts and errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from sklstm import LSTMRegressor
from sklstm.forecasting import LSTMForecaster

FAST_LSTM = dict(hidden_size=8, learning_rate_init=0.02, tol=1e-3, n_iter_no_change=3)


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Networks this small only wait on a second thread: on a busy 2-core machine
    # a fit took 40 s with two threads and 1 s with one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Recorder(RegressorMixin, BaseEstimator):
    """A regressor that remembers what it was trained and validated on; predicts ``output``."""

    def __init__(self, max_iter=3, tol=0.0, n_iter_no_change=10, output=0.0):
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.output = output

    def fit(self, X, y):
        return self.partial_fit(X, y)

    def partial_fit(self, X, y):
        self.trained_on_ = X
        self.n_outputs_ = y.shape[1]
        return self

    def predict(self, X):
        self.predicted_ = X
        return np.full((len(X), self.n_outputs_), self.output)


@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
    ],
)
def test_sklearn_parameter_conventions(check):
    check("LSTMForecaster", LSTMForecaster(LSTMRegressor(hidden_size=4), lookback=6))


def test_clone_and_nested_params():
    forecaster = LSTMForecaster(LSTMRegressor(hidden_size=4), lookback=6, horizon=3)
    params = forecaster.get_params()
    assert params["lookback"] == 6 and params["estimator__hidden_size"] == 4
    copy = clone(forecaster).set_params(estimator__hidden_size=16, season=7)
    assert copy.estimator.hidden_size == 16 and copy.season == 7
    assert forecaster.estimator.hidden_size == 4 and forecaster.season is None


def test_a_linear_model_forecasts_a_linear_series_exactly_with_its_index():
    index = pd.date_range("2024-01-01", periods=60, freq="D")
    y = pd.Series(
        3 + 0.5 * np.arange(60.0) + np.tile([0.0, 2, 1, 0, 5, 1, 1], 9)[:60], index=index
    )
    forecaster = LSTMForecaster(
        LinearRegression(), lookback=7, horizon=10, season=7, validation_fraction=None
    ).fit(y)
    forecast = forecaster.predict(9)
    assert_array_equal(forecast.index, pd.date_range("2024-03-01", periods=9, freq="D"))
    t = np.arange(60, 69)
    assert_allclose(forecast, 3 + 0.5 * t + np.tile([0.0, 2, 1, 0, 5, 1, 1], 10)[t], atol=1e-8)
    # From a later history, without refitting: the same model reads the new window.
    later = forecaster.predict(2, y=y.iloc[:40])
    assert_array_equal(later.index, index[40:42])
    assert_allclose(later, y.iloc[40:42], atol=1e-8)


def test_validation_windows_are_the_latest_and_never_trained_on():
    t = np.arange(30.0)
    forecaster = LSTMForecaster(Recorder(), lookback=2, horizon=3, validation_fraction=0.2)
    with pytest.warns(ConvergenceWarning, match="Maximum epochs"):
        forecaster.fit(t, t[:, None])  # the time itself as exogenous feature
    windows = forecaster.windows_

    def origins(inputs):  # the step after each window's last input step
        steps = inputs[:, -1] * windows.exog_scale_[0] + windows.exog_mean_[0]
        return np.round(steps).astype(int) + 1

    # 26 windows (origins 2..27); the latest ceil(0.2 * 26) = 6 validate, and the
    # training windows end their targets before the first validation origin.
    assert_array_equal(origins(forecaster.estimator_.predicted_), np.arange(22, 28))
    assert_array_equal(origins(forecaster.estimator_.trained_on_), np.arange(2, 20))
    assert forecaster.n_windows_ == 26 and forecaster.n_iter_ == 3


def test_lstm_forecaster_learns_a_seasonal_series_and_keeps_its_best_epoch():
    rng = np.random.RandomState(0)
    t = np.arange(400)
    y = 5 + np.sin(2 * np.pi * t / 24) + 0.05 * rng.randn(400)
    lstm = LSTMRegressor(random_state=0, **FAST_LSTM)
    forecaster = LSTMForecaster(lstm, lookback=24, horizon=6, window_level=24, patch_size=4)
    forecaster.fit(y[:380])
    assert forecaster.n_iter_ == len(forecaster.validation_losses_)
    assert forecaster.best_validation_loss_ == min(forecaster.validation_losses_)
    forecast = forecaster.predict()
    assert forecast.shape == (6,)
    naive_error = np.abs(y[374:380] - y[380:386]).mean()
    assert np.abs(forecast - y[380:386]).mean() < naive_error
    # The same random_state gives the same forecast; the given estimator stays unfitted.
    assert_allclose(clone(forecaster).fit(y[:380]).predict(), forecast)
    assert not hasattr(lstm, "net_")


def test_several_series_with_exogenous_features():
    rng = np.random.RandomState(0)
    ys = [rng.randn(50).cumsum(), rng.randn(40).cumsum()]
    Xs = [rng.randn(50, 2), rng.randn(40, 2)]
    forecaster = LSTMForecaster(
        LinearRegression(), lookback=5, horizon=3, validation_fraction=None
    )
    forecaster.fit(ys, Xs)
    forecasts = forecaster.predict(2)
    assert isinstance(forecasts, list) and [f.shape for f in forecasts] == [(2,), (2,)]
    again = forecaster.predict(2, y=[ys[0], ys[1]], X=Xs)
    assert_allclose(again, forecasts)
    with pytest.raises(ValueError, match="pass X with y"):
        forecaster.predict(y=ys)


@pytest.mark.parametrize(
    "params, error",
    [
        (dict(lookback=0), InvalidParameterError),
        (dict(validation_fraction=1.5), InvalidParameterError),
        (dict(season=0), InvalidParameterError),
        (dict(estimator="lstm"), InvalidParameterError),
        (dict(estimator=LinearRegression()), ValueError),  # no partial_fit to stop early
    ],
)
def test_bad_parameters_are_refused_at_fit(params, error):
    with pytest.raises(error):
        LSTMForecaster(**params).fit(np.arange(100.0))


def test_bad_series_and_horizons_are_refused():
    linear = dict(estimator=LinearRegression(), validation_fraction=None)
    with pytest.raises(ValueError, match="too short"):
        LSTMForecaster(lookback=10, horizon=5, season=7, **linear).fit(np.arange(20.0))
    with pytest.raises(ValueError, match="NaN"):
        LSTMForecaster(lookback=3, **linear).fit(np.r_[np.arange(10.0), np.nan])
    with pytest.raises(ValueError, match="No training window"):
        LSTMForecaster(Recorder(), lookback=3, horizon=4, validation_fraction=0.5).fit(
            np.arange(10.0)
        )
    with pytest.raises(ValueError, match="diverged"):
        LSTMForecaster(Recorder(output=np.nan), lookback=3).fit(np.arange(30.0))
    forecaster = LSTMForecaster(lookback=3, horizon=4, **linear).fit(np.arange(20.0))
    for horizon in (0, 5, 2.0):
        with pytest.raises(ValueError, match="horizon must be"):
            forecaster.predict(horizon)
    with pytest.raises(ValueError, match="too short"):
        forecaster.predict(y=np.arange(2.0))
    with pytest.raises(ValueError, match="without y"):
        forecaster.predict(X=np.ones((20, 1)))
