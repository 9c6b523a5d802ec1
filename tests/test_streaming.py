"""Streaming inference: a sequence fed a chunk at a time gets the predictions of its prefixes."""

import itertools

import numpy as np
import pytest

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor, LSTMTagger
from sklstm.streaming import SequenceStream

CHUNKS = (1, 7, 100)


def _data(n=24, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    # Up to 150 steps: the front end of a model fitted on them strides by 3.
    X = [rng.randn(rng.randint(20, 150), n_features).astype(np.float32) for _ in range(n)]
    return X, np.arange(n) % 3


def _streamed(estimator, x, chunk):
    stream = estimator.stream()
    rows = [stream.update(x[i : i + chunk]) for i in range(0, len(x), chunk)]
    assert stream.n_steps_ == len(x)
    return np.concatenate(rows)


def _prefixes(predict, x):
    return np.stack([predict([x[: t + 1]])[0] for t in range(len(x))])


@pytest.mark.parametrize(
    "cell, backend, pooling, frontend",
    list(itertools.product(["lstm", "gru", "rnn"], ["explicit", "fused"],
                           ["last", "mean", "max", "attention"], [None, "conv"])),
)  # fmt: skip
def test_chunks_give_the_predictions_of_every_prefix(cell, backend, pooling, frontend):
    X, y = _data()
    clf = LSTMClassifier(
        cell=cell, backend=backend, pooling=pooling, frontend=frontend, hidden_size=8,
        num_layers=2, max_iter=1, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert clf.frontend_stride_ == (3 if frontend else 1)
    x = X[1][:120]
    expected = _prefixes(clf.predict_proba, x)
    for chunk in CHUNKS:
        np.testing.assert_allclose(_streamed(clf, x, chunk), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_a_regressor_with_static_features_streams_its_predictions(n_outputs):
    X, _ = _data(n_features=4, seed=1)
    y = np.stack([x[:, 0].sum() * np.arange(1, n_outputs + 1) for x in X])
    y = y.ravel() if n_outputs == 1 else y
    reg = LSTMRegressor(n_static_features=1, pooling="attention", max_iter=1, random_state=0)
    reg.fit(X, y)
    x = max(X, key=len)
    expected = _prefixes(reg.predict, x)
    for chunk in CHUNKS:
        rows = _streamed(reg, x, chunk)
        assert rows.shape == expected.shape == ((len(x),) + ((2,) if n_outputs == 2 else ()))
        np.testing.assert_allclose(rows, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("frontend", [None, "conv"])
def test_a_tagger_streams_the_label_probabilities_of_each_new_step(frontend):
    X, _ = _data(seed=2)
    steps = [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]
    tagger = LSTMTagger(frontend=frontend, max_iter=1, random_state=0).fit(X, steps)
    x = X[4][:80]
    expected = np.stack([tagger.predict_proba([x[: t + 1]])[0][t] for t in range(len(x))])
    for chunk in CHUNKS:
        np.testing.assert_allclose(_streamed(tagger, x, chunk), expected, rtol=0, atol=1e-5)


def test_ten_thousand_steps_stream_in_constant_memory():
    X, y = _data(n_features=2, seed=3)
    clf = LSTMClassifier(frontend="conv", max_iter=1, random_state=0).fit(X, y)
    x = np.random.RandomState(4).randn(10_000, 2).astype(np.float32)
    stream, held = clf.stream(), []
    for i in range(0, len(x), 100):
        last = stream.update(x[i : i + 100])[-1]
        held.append(stream._network.buffered_steps())
    # The front end keeps the input steps its convolutions still read, no more: a
    # few strides (3) and the kernels' half-widths (3, 2 and 1 steps).
    assert clf.frontend_stride_ == 3
    assert clf.frontend_kernels_ == (7, 5, 3)
    assert max(held) == max(held[:2]) <= 2 * (1 + 1) * 3 + 2 * (3 + 2)
    np.testing.assert_allclose(last, clf.predict_proba([x])[0], rtol=0, atol=1e-5)


def test_reset_starts_a_new_sequence_and_empty_chunks_are_fine():
    X, y = _data(seed=5)
    clf = LSTMClassifier(max_iter=1, random_state=0).fit(X, y)
    stream = clf.stream()
    first = stream.update(X[0])
    assert stream.update(X[0][:0]).shape == (0, 3) and stream.n_steps_ == len(X[0])
    stream.update(X[1])
    np.testing.assert_array_equal(stream.reset().update(X[0]), first)
    assert isinstance(stream, SequenceStream) and "n_steps_=" in repr(stream)


def test_a_loaded_model_streams_as_the_saved_one(tmp_path):
    X, y = _data(seed=6)
    clf = LSTMClassifier(max_iter=1, random_state=0).fit(X, y)
    sklstm.save(clf, tmp_path / "m.sklstm")
    loaded = sklstm.load(tmp_path / "m.sklstm")
    np.testing.assert_array_equal(_streamed(loaded, X[2], 7), _streamed(clf, X[2], 7))


def test_bad_chunks_and_bidirectional_models_are_refused():
    X, y = _data(seed=7)
    clf = LSTMClassifier(max_iter=1, random_state=0).fit(X, y)
    stream = clf.stream()
    with pytest.raises(
        ValueError, match=r"chunk must have shape \(n_steps, 3\).*got shape \(5, 2\)"
    ):
        stream.update(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="chunk contains NaN"):
        stream.update(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="chunk must be an array of numbers"):
        stream.update([["a", "b", "c"]])
    assert stream.n_steps_ == 0  # nothing was fed
    univariate = LSTMClassifier(max_iter=1, random_state=0).fit([x[:, :1] for x in X], y)
    assert univariate.stream().update(X[0][:, 0]).shape == (len(X[0]), 3)
    both_ways = LSTMClassifier(bidirectional=True, max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="bidirectional.*cannot give outputs before the"):
        both_ways.stream()
    with pytest.raises(Exception, match="not fitted"):
        LSTMClassifier().stream()


@pytest.mark.parametrize("frontend, n_static", [(None, 1), ("conv", 0), ("conv", 1)])
def test_a_refilled_input_buffer_does_not_change_what_the_stream_remembers(frontend, n_static):
    X, y = _data(seed=8)
    clf = LSTMClassifier(
        frontend=frontend, n_static_features=n_static, max_iter=1, random_state=0
    ).fit(X, y)
    x = X[0]
    stream, buffer, rows = clf.stream(), np.empty((1, 3), dtype=np.float32), []
    for t in range(len(x)):
        buffer[:] = x[t : t + 1]  # an audio callback refilling one buffer
        rows.append(stream.update(buffer))
    np.testing.assert_allclose(np.concatenate(rows), _prefixes(clf.predict_proba, x), atol=1e-5)


def test_a_model_of_univariate_series_streams_one_value_per_step():
    rng = np.random.RandomState(9)
    X, y = rng.randn(30, 20), np.arange(30) % 2  # 2D: 30 series of 20 steps
    clf = LSTMClassifier(max_iter=1, random_state=0).fit(X, y)
    expected = _prefixes(lambda s: clf.predict_proba([np.asarray(s[0])[:, None]]), X[0])
    np.testing.assert_allclose(clf.stream().update(X[0]), expected, atol=1e-5)
    np.testing.assert_allclose(clf.stream().update(X[0][:, None]), expected, atol=1e-5)


def test_a_stream_keeps_the_network_it_was_created_with():
    X, y = _data(seed=10)
    clf = LSTMClassifier(max_iter=1, random_state=0).fit(X, y)
    before = _prefixes(clf.predict_proba, X[1])
    stream = clf.stream()
    clf.partial_fit(X, y)  # trains the same network further, in place
    np.testing.assert_allclose(stream.update(X[1]), before, atol=1e-5)
    np.testing.assert_allclose(_streamed(clf, X[1], 7), _prefixes(clf.predict_proba, X[1]),
                               atol=1e-5)  # fmt: skip


def test_a_regressor_stream_keeps_the_target_scale_it_was_created_with():
    X, _ = _data(seed=11)
    y = np.array([x[:, 0].sum() for x in X])
    reg = LSTMRegressor(max_iter=1, random_state=0).fit(X, y)
    before = _prefixes(reg.predict, X[2])
    stream = reg.stream()
    reg.fit(X, 1000 * y + 5000)  # a new network and a new target scale
    np.testing.assert_allclose(stream.update(X[2]), before, rtol=1e-5, atol=1e-5)


def _side_by_side(estimator, xs, chunk):
    """Streams of equal length fed together: rows (n_streams, n_steps, ...)."""
    stream = estimator.stream(n_streams=len(xs))
    X = np.stack(xs)
    rows = [stream.update(X[:, i : i + chunk]) for i in range(0, X.shape[1], chunk)]
    assert stream.n_steps_ == X.shape[1] and f"n_streams={len(xs)}" in repr(stream)
    return np.concatenate(rows, axis=1)


@pytest.mark.parametrize(
    "cell, pooling, frontend",
    list(itertools.product(["lstm", "gru"], ["last", "mean", "max", "attention"],
                           [None, "conv"])),
)  # fmt: skip
def test_streams_side_by_side_give_what_each_gives_alone(cell, pooling, frontend):
    X, y = _data()
    clf = LSTMClassifier(
        cell=cell, pooling=pooling, frontend=frontend, hidden_size=8, num_layers=2,
        max_iter=1, random_state=0,
    ).fit(X, y)  # fmt: skip
    xs = [x[:20] for x in X[:5]]
    for chunk in (1, 7):
        rows = _side_by_side(clf, xs, chunk)
        assert rows.shape == (5, 20, 3)
        for x, row in zip(xs, rows):
            np.testing.assert_allclose(row, _streamed(clf, x, chunk), rtol=0, atol=1e-6)
            np.testing.assert_allclose(row[-1], clf.predict_proba([x])[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_streams_side_by_side_keep_their_static_features(n_outputs):
    X, _ = _data(n_features=4, seed=1)
    y = np.stack([x[:, 0].sum() * np.arange(1, n_outputs + 1) for x in X])
    y = y.ravel() if n_outputs == 1 else y
    reg = LSTMRegressor(n_static_features=1, max_iter=1, random_state=0).fit(X, y)
    xs = [x[:20] for x in X[:3]]
    rows = _side_by_side(reg, xs, 6)
    assert rows.shape == (3, 20) + ((2,) if n_outputs == 2 else ())
    for x, row in zip(xs, rows):
        # In the target's units, through 128-channel convolutions batched otherwise.
        np.testing.assert_allclose(row, _streamed(reg, x, 6), rtol=1e-6, atol=1e-5)


def test_streams_side_by_side_refuse_chunks_of_another_layout():
    X, y = _data(seed=7)
    clf = LSTMClassifier(max_iter=1, random_state=0).fit(X, y)
    stream = clf.stream(n_streams=2)
    for bad in (X[0][:5], np.zeros((3, 5, 3)), np.zeros((2, 5, 4))):
        with pytest.raises(ValueError, match=r"shape \(2, n_steps, 3\)"):
            stream.update(bad)
    assert stream.update(np.zeros((2, 0, 3))).shape == (2, 0, 3)
    for n_streams in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_streams"):
            clf.stream(n_streams=n_streams)
    univariate = LSTMClassifier(max_iter=1, random_state=0).fit(
        np.stack([x[:20, 0] for x in X]), y
    )
    both = univariate.stream(n_streams=2).update(np.stack([X[0][:9, 0], X[1][:9, 0]]))
    assert both.shape == (2, 9, 3)


@pytest.mark.parametrize("frontend", [None, "conv"])
def test_tagger_streams_side_by_side_give_each_step_its_own_probabilities(frontend):
    X, _ = _data(seed=2)
    steps = [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]
    tagger = LSTMTagger(frontend=frontend, max_iter=1, random_state=0).fit(X, steps)
    xs = [x[:25] for x in X[:4]]
    rows = _side_by_side(tagger, xs, 4)
    assert rows.shape == (4, 25, 2)
    for x, row in zip(xs, rows):
        np.testing.assert_allclose(row, _streamed(tagger, x, 4), rtol=0, atol=1e-6)
