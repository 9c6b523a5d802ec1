"""Windows for forecasting: exact contents, alignment, leakage and the way back to forecasts."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklstm.forecasting import SlidingWindows, make_windows


def test_make_windows_exact_contents_and_alignment():
    inputs, targets, origins = make_windows(np.arange(10.0), lookback=3, horizon=2)
    assert inputs.shape == (6, 3, 1)
    assert_array_equal(origins, [3, 4, 5, 6, 7, 8])
    assert_array_equal(inputs[:, :, 0], [[i, i + 1, i + 2] for i in range(6)])
    # The targets start right at the origin, after the last input step.
    assert_array_equal(targets, [[i + 3, i + 4] for i in range(6)])


def test_make_windows_stride_is_aligned_on_the_end():
    inputs, targets, origins = make_windows(np.arange(10.0), lookback=3, horizon=2, stride=3)
    assert_array_equal(origins, [5, 8])
    assert_array_equal(inputs[:, :, 0], [[2, 3, 4], [5, 6, 7]])
    assert_array_equal(targets, [[5, 6], [8, 9]])  # the last window ends with the series


def test_make_windows_exogenous_features_share_the_input_steps():
    y = np.arange(6.0)
    X = np.column_stack([100 + y, -y])
    inputs, targets, _ = make_windows(y, X, lookback=2, horizon=1)
    assert_array_equal(inputs[0], [[0, 100, 0], [1, 101, -1]])
    assert_array_equal(inputs[-1], [[3, 103, -3], [4, 104, -4]])
    assert_array_equal(targets[:, 0], [2, 3, 4, 5])


def test_make_windows_of_a_series_too_short_is_empty():
    inputs, targets, origins = make_windows(np.arange(4.0), lookback=3, horizon=2)
    assert inputs.shape == (0, 3, 1) and targets.shape == (0, 2) and origins.shape == (0,)


def test_scaling_is_learned_from_the_training_part_only():
    train = np.arange(8.0)  # mean 3.5, standard deviation sqrt(5.25)
    future = np.full(4, 1000.0)  # a level the training part never reaches
    windows = SlidingWindows(lookback=3, horizon=1).fit(train)
    assert windows.mean_ == 3.5 and windows.scale_ == np.sqrt(5.25)
    inputs, targets = windows.transform(np.r_[train, future])
    s = np.sqrt(5.25)
    assert_allclose(inputs[0, :, 0], (np.array([0, 1, 2]) - 3.5) / s)
    # The future is scaled with the training statistics: far out, not re-centred.
    assert_allclose(targets[-1, 0], (1000 - 3.5) / s)
    assert_allclose(inputs[-1, :, 0], (np.array([1000, 1000, 1000]) - 3.5) / s)
    # Fitting on the whole series would have moved the statistics.
    assert SlidingWindows(lookback=3, horizon=1).fit(np.r_[train, future]).mean_ > 200


def test_seasonal_differencing_exact_values():
    # Differences by one step: 0, 1, 2, 3, 4 (mean 2, standard deviation sqrt(2)).
    y = np.array([0.0, 0, 1, 3, 6, 10])
    windows = SlidingWindows(lookback=2, horizon=1, season=1).fit(y)
    assert windows.mean_ == 2 and windows.scale_ == np.sqrt(2)
    inputs, targets = windows.transform(y)
    s = np.sqrt(2)
    assert_allclose(inputs[:, :, 0], np.array([[-2, -1], [-1, 0], [0, 1]]) / s)
    assert_allclose(targets[:, 0], np.array([0, 1, 2]) / s)


def test_window_level_exact_values():
    y = np.arange(8.0)
    windows = SlidingWindows(lookback=3, horizon=1, window_level=2).fit(y)
    inputs, targets = windows.transform(y)
    s = np.sqrt(5.25)
    # First window: steps 0, 1, 2 around the mean of its last two (1.5); target 3.
    assert_allclose(inputs[0, :, 0], np.array([-1.5, -0.5, 0.5]) / s)
    assert_allclose(targets[0, 0], 1.5 / s)
    # Every window of a straight line looks the same around its own level.
    assert_allclose(inputs[:, :, 0], np.tile(inputs[0, :, 0], (len(inputs), 1)))


def test_patches_merge_consecutive_steps_with_their_features():
    y = np.arange(10.0)
    X = (100 + y)[:, None]
    windows = SlidingWindows(lookback=4, horizon=1, patch_size=2).fit(y, X)
    inputs, _ = windows.transform(y, X)
    assert inputs.shape == (6, 2, 4)
    z = (y - 4.5) / np.sqrt(8.25)  # the series and its feature standardize alike
    assert_allclose(inputs[0], [[z[0], z[0], z[1], z[1]], [z[2], z[2], z[3], z[3]]])


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(season=3),
        dict(season=2, window_level=3),  # season < horizon: forecasts build on forecasts
        dict(season=7, window_level=1, patch_size=2, stride=3),
    ],
)
def test_last_window_and_inverse_transform_round_trip(params):
    rng = np.random.RandomState(0)
    y = rng.randn(60).cumsum() + 50
    X = rng.randn(60, 2)
    windows = SlidingWindows(lookback=4, horizon=5, **params).fit(y[:40], X[:40])
    inputs, targets, origins, _ = windows._windows(y, X)
    for k in (0, len(origins) // 2, len(origins) - 1):
        o = origins[k]
        # The window read to forecast from y[:o] is the training window at origin o...
        assert_allclose(windows.transform_last(y[:o], X[:o])[0], inputs[k])
        # ...and its targets map back to the actual values after o.
        assert_allclose(windows.inverse_transform(targets[k : k + 1], y[:o]), y[o : o + 5])
        assert_allclose(windows.inverse_transform(targets[k : k + 1, :2], y[:o]), y[o : o + 2])


def test_inverse_transform_indexes_like_the_input():
    index = pd.date_range("2000-06-05", periods=20, freq="30min")
    y = pd.Series(np.arange(20.0), index=index, name="demand")
    windows = SlidingWindows(lookback=4, horizon=3, season=2).fit(y)
    forecast = windows.inverse_transform(np.zeros((1, 3)), y)
    assert isinstance(forecast, pd.Series) and forecast.name == "demand"
    assert_array_equal(forecast.index, pd.date_range("2000-06-05 10:00", periods=3, freq="30min"))
    # A zero output is the mean change over one season (2 here), added season by season.
    assert windows.mean_ == 2
    assert_allclose(forecast.to_numpy(), [18 + 2, 19 + 2, 18 + 2 + 2])

    no_freq = pd.Series(np.arange(20.0), index=pd.DatetimeIndex(list(index)))
    assert no_freq.index.freq is None
    assert windows.inverse_transform(np.zeros((1, 1)), no_freq).index[0] == index[-1] + (
        index[1] - index[0]
    )
    quarters = pd.Series(np.arange(12.0), index=pd.period_range("2006Q1", periods=12, freq="Q"))
    assert list(windows.inverse_transform(np.zeros((1, 2)), quarters).index.astype(str)) == [
        "2009Q1",
        "2009Q2",
    ]
    ranged = pd.Series(np.arange(12.0), index=pd.RangeIndex(100, 112))
    assert list(windows.inverse_transform(np.zeros((1, 2)), ranged).index) == [112, 113]
    with pytest.raises(ValueError, match="Cannot continue"):
        windows.inverse_transform(
            np.zeros((1, 2)), pd.Series(np.arange(8.0), index=list("abcdefgh"))
        )


def test_several_series_make_one_set_of_windows():
    a, b = np.arange(10.0), 100 + np.arange(7.0)
    windows = SlidingWindows(lookback=3, horizon=2).fit([a, b])
    assert windows.mean_ == np.r_[a, b].mean()
    inputs, targets, origins, series = windows._windows([a, b])
    assert_array_equal(series, [0] * 6 + [1] * 3)
    assert_array_equal(origins, [3, 4, 5, 6, 7, 8, 3, 4, 5])
    last = windows.transform_last([a, b])
    assert_allclose(last[:, :, 0] * windows.scale_ + windows.mean_, [[7, 8, 9], [104, 105, 106]])
    forecasts = windows.inverse_transform(targets[[5, 8]], [a[:8], b[:5]])
    assert_allclose(forecasts[0], [8, 9])
    assert_allclose(forecasts[1], [105, 106])


@pytest.mark.parametrize(
    "params, y, X, message",
    [
        (dict(lookback=3, window_level=4), np.arange(10.0), None, "window_level"),
        (dict(lookback=3, patch_size=2), np.arange(10.0), None, "must divide"),
        (dict(lookback=3, horizon=2, season=4), np.arange(8.0), None, "too short"),
        (dict(lookback=2), np.r_[0.0, np.nan, 1, 2, 3], None, "NaN"),
        (dict(lookback=2), np.ones((6, 2)), None, "1D"),
        (dict(lookback=2), np.arange(6.0), np.ones((5, 1)), "5 rows"),
        (dict(lookback=2), [np.arange(6.0), np.arange(6.0)], [np.ones((6, 1))], "2 series"),
    ],
)
def test_bad_input_is_refused(params, y, X, message):
    with pytest.raises(ValueError, match=message):
        SlidingWindows(**params).fit(y, X)


def test_checks_at_transform_time():
    windows = SlidingWindows(lookback=3, horizon=1, season=2).fit(np.arange(10.0))
    with pytest.raises(ValueError, match="too short"):
        windows.transform_last(np.arange(4.0))
    with pytest.raises(ValueError, match="exogenous features"):
        windows.transform(np.arange(10.0), np.ones((10, 1)))
    with pytest.raises(ValueError, match="long enough"):
        windows.transform(np.arange(5.0))
