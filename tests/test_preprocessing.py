"""SequenceScaler and PadTruncate on ragged, 3D and 2D input."""

import numpy as np
import pytest

from sklstm import PadTruncate, SequenceScaler


def test_scaler_uses_every_valid_step_of_ragged_sequences():
    X = [np.array([[0.0, 10.0], [2.0, 30.0]]), np.array([[4.0, 20.0]])]
    scaler = SequenceScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, [2.0, 20.0])
    np.testing.assert_allclose(scaler.var_, [8 / 3, 200 / 3])
    assert scaler.n_steps_seen_ == 3 and scaler.n_features_in_ == 2
    Xt = scaler.transform(X)
    assert isinstance(Xt, list) and [x.shape for x in Xt] == [(2, 2), (1, 2)]
    stacked = np.concatenate(Xt)
    np.testing.assert_allclose(stacked.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(stacked.std(axis=0), 1)
    back = scaler.inverse_transform(Xt)
    for a, b in zip(back, X):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_scaler_on_3d_and_2d_and_constant_features():
    rng = np.random.RandomState(0)
    X3 = rng.randn(5, 4, 3).astype(np.float32) * 3 + 1
    X3[:, :, 2] = 7.0
    scaler = SequenceScaler().fit(X3)
    Xt = scaler.transform(X3)
    assert Xt.shape == X3.shape and Xt.dtype == np.float32
    np.testing.assert_allclose(scaler.scale_[2], 1.0)  # constant: left unscaled
    np.testing.assert_allclose(Xt[:, :, 2], 0.0)
    X2 = rng.randn(6, 5) + 4
    univariate = SequenceScaler().fit(X2)
    assert univariate.mean_.shape == (1,) and univariate.n_features_in_ == 5
    np.testing.assert_allclose(univariate.transform(X2).mean(), 0, atol=1e-12)


def test_scaler_options_and_feature_check():
    X = [np.array([[1.0], [3.0]]), np.array([[5.0]])]
    only_center = SequenceScaler(with_std=False).fit(X)
    assert only_center.scale_ is None
    np.testing.assert_allclose(np.concatenate(only_center.transform(X))[:, 0], [-2, 0, 2])
    with pytest.raises(ValueError, match="X has 2 features per time step"):
        only_center.transform([np.zeros((3, 2))])


@pytest.mark.parametrize(
    "padding, truncating, expected",
    [
        ("post", "post", [[1, 2, 3], [7, 0, 0]]),
        ("pre", "post", [[1, 2, 3], [0, 0, 7]]),
        ("post", "pre", [[2, 3, 4], [7, 0, 0]]),
        ("pre", "pre", [[2, 3, 4], [0, 0, 7]]),
    ],
)
def test_pad_truncate_exact_values(padding, truncating, expected):
    X = [np.array([1.0, 2.0, 3.0, 4.0]), np.array([7.0])]
    pad = PadTruncate(length=3, padding=padding, truncating=truncating).fit(X)
    out = pad.transform(X)
    assert out.shape == (2, 3, 1)
    np.testing.assert_array_equal(out[:, :, 0], expected)


def test_pad_truncate_learns_the_longest_length_and_pads_with_value():
    X = [np.ones((2, 2)), np.ones((5, 2))]
    pad = PadTruncate(value=-1.0).fit(X)
    assert pad.length_ == 5
    out = pad.transform([np.ones((1, 2))])
    np.testing.assert_array_equal(out[0, :, 0], [1, -1, -1, -1, -1])
    X2 = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(PadTruncate(length=2).fit_transform(X2), [[0, 1], [4, 5]])


def test_from_channels_first_swaps_axes_of_arrays_and_lists_and_back():
    from sklstm import FromChannelsFirst

    X = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # 2 cases, 3 channels, 4 steps
    swap = FromChannelsFirst().fit(X)
    out = swap.transform(X)
    assert out.shape == (2, 4, 3) and out.dtype == np.float32
    assert out[1, 2, 0] == X[1, 0, 2]
    np.testing.assert_array_equal(swap.inverse_transform(out), X)
    ragged = [np.ones((3, 5)), np.zeros((3, 2))]
    assert [x.shape for x in swap.transform(ragged)] == [(5, 3), (2, 3)]
    univariate = np.ones((4, 7))
    np.testing.assert_array_equal(swap.fit_transform(univariate), univariate)


def test_from_channels_first_names_bad_input():
    from sklstm import FromChannelsFirst

    swap = FromChannelsFirst().fit(np.zeros((2, 3, 10)))
    with pytest.raises(ValueError, match="4 channels, but FromChannelsFirst was fitted with 3"):
        swap.transform(np.zeros((2, 4, 10)))
    with pytest.raises(ValueError, match=r"different numbers of channels: \[2, 3\]"):
        swap.transform([np.zeros((3, 5)), np.zeros((2, 5))])
    with pytest.raises(ValueError, match="Series 1 has shape"):
        swap.transform([np.zeros((3, 5)), np.zeros(5)])


def test_from_channels_first_feeds_an_lstm_like_time_major_data():
    from sklearn.pipeline import make_pipeline

    from sklstm import FromChannelsFirst, LSTMClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(20, 8, 2).astype(np.float32)  # time-major
    y = np.arange(20) % 2
    params = dict(hidden_size=4, max_iter=2, random_state=0)
    direct = LSTMClassifier(**params).fit(X, y)
    aeon = make_pipeline(FromChannelsFirst(), LSTMClassifier(**params))
    aeon.fit(X.transpose(0, 2, 1), y)
    np.testing.assert_array_equal(
        aeon.predict_proba(X.transpose(0, 2, 1)), direct.predict_proba(X)
    )


def _running_mean_reference(x, window):
    """Step by step, as the docstring defines it."""
    mean, out = np.zeros(x.shape[1]), []
    for t, step in enumerate(x):
        mean = mean + (step - mean) / min(t + 1, window)
        out.append(step - mean)
    return np.array(out)


def test_running_mean_normalizer_is_causal_and_streams_exactly():
    from sklstm import RunningMeanNormalizer

    rng = np.random.RandomState(0)
    X = [rng.randn(n, 3).astype(np.float32) + 5.0 for n in (1, 40, 300)]
    normalizer = RunningMeanNormalizer(window=25).fit(X)
    out = normalizer.transform(X)
    for x, y in zip(X, out):
        assert y.dtype == np.float32 and y.shape == x.shape
        np.testing.assert_allclose(y, _running_mean_reference(x.astype(np.float64), 25), atol=1e-5)
    assert np.all(out[0] == 0.0)  # a step minus the mean of itself alone
    # Causal: a step's value does not depend on what follows it.
    np.testing.assert_array_equal(normalizer.transform([X[2][:100]])[0], out[2][:100])
    # Chunks fed to a stream: the whole sequence's values, exactly.
    for sizes in ([1] * 30 + [270], [24, 1, 2, 273], [300]):
        stream, parts, start = normalizer.stream(), [], 0
        for size in sizes:
            parts.append(stream.update(X[2][start : start + size]))
            start += size
        np.testing.assert_array_equal(np.vstack(parts), out[2])
    # 3D and 2D input keep their formats; a slow drift is removed.
    X3 = np.stack([X[1], X[1] * 2])
    assert normalizer.transform(X3).shape == (2, 40, 3)
    drift = np.linspace(0, 50, 2000)[None, :] + rng.randn(1, 2000)
    assert abs(normalizer.fit_transform(drift)[0, -500:].mean()) < 1.0


def test_running_mean_normalizer_starts_from_the_training_mean_with_a_prior():
    from sklstm import RunningMeanNormalizer

    rng = np.random.RandomState(1)
    train = [rng.randn(50, 2) + [3.0, -1.0] for _ in range(4)]
    normalizer = RunningMeanNormalizer(window=20, prior=8).fit(train)
    np.testing.assert_allclose(normalizer.mean_, np.vstack(train).mean(axis=0))
    x = rng.randn(60, 2)
    mean, expected = normalizer.mean_.copy(), []
    for t, step in enumerate(x):  # the prior counts as 8 steps, so the mean turns
        mean = mean + (step - mean) / min(8 + t + 1, 20)  # exponential after 12
        expected.append(step - mean)
    out = normalizer.transform([x])[0]
    np.testing.assert_allclose(out, expected, atol=1e-12)
    stream = normalizer.stream()
    chunks = [stream.update(x[a:b]) for a, b in [(0, 5), (5, 12), (12, 13), (13, 60)]]
    np.testing.assert_array_equal(np.vstack(chunks), out)
    # Without the prior the first step is its own mean; with it, it is not.
    assert np.all(RunningMeanNormalizer(window=20).fit(train).transform([x])[0][0] == 0)
    assert np.all(out[0] != 0)


def test_running_mean_normalizer_names_bad_input():
    from sklearn.utils._param_validation import InvalidParameterError

    from sklstm import RunningMeanNormalizer

    with pytest.raises(InvalidParameterError, match="window"):
        RunningMeanNormalizer(window=0).fit([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="prior=5 must be less than window=5"):
        RunningMeanNormalizer(window=5, prior=5).fit([np.zeros((3, 2))])
    normalizer = RunningMeanNormalizer().fit([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="features"):
        normalizer.transform([np.zeros((3, 4))])
