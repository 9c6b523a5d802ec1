"""ONNX export: onnxruntime reproduces predict_proba and predict."""

import json

import numpy as np
import pytest

from sklstm import LSTMClassifier, LSTMRegressor

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _ragged(n=30, features=3, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randn(rng.randint(2, 20), features).astype(np.float32) for _ in range(n)]


def _padded(X):
    lengths = np.array([len(x) for x in X], dtype=np.int64)
    out = np.zeros((len(X), lengths.max(), X[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out, lengths


@pytest.mark.parametrize(
    "params",
    [
        dict(cell="lstm", bidirectional=True, num_layers=2, pooling="last"),
        dict(cell="lstm", backend="explicit", pooling="attention"),
        dict(cell="gru", bidirectional=True, pooling="mean"),
        dict(cell="rnn", pooling="max"),
        dict(cell="lstm", n_static_features=1),
        dict(frontend="conv", bidirectional=True, pooling="mean"),
        dict(frontend="conv", backend="explicit", cell="gru", pooling="attention"),
    ],
)
def test_classifier_onnx_matches_predict_proba_on_ragged_batches(params, tmp_path):
    X = _ragged()
    y = np.array(["cat", "dog", "eel"])[np.arange(30) % 3]
    clf = LSTMClassifier(hidden_size=8, max_iter=3, random_state=0, **params).fit(X, y)
    path = clf.to_onnx(tmp_path / "clf.onnx")
    session = ort.InferenceSession(str(path))
    x, lengths = _padded(X)
    proba, label = session.run(None, {"x": x, "lengths": lengths})
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    classes = json.loads(onnx.load(str(path)).metadata_props[0].value)
    np.testing.assert_array_equal(np.array(classes)[label], clf.predict(X))
    one, _ = session.run(None, {"x": x[:1, : lengths[0]], "lengths": lengths[:1]})
    np.testing.assert_allclose(one, clf.predict_proba(X[:1]), atol=1e-5)


def test_regressor_onnx_returns_targets_in_original_units(tmp_path):
    X = _ragged(features=2, seed=1)
    Y = np.column_stack([[x.sum() for x in X], [100 + len(x) for x in X]])
    reg = LSTMRegressor(hidden_size=8, max_iter=3, random_state=0).fit(X, Y)
    session = ort.InferenceSession(str(reg.to_onnx(tmp_path / "reg.onnx")))
    x, lengths = _padded(X)
    (pred,) = session.run(None, {"x": x, "lengths": lengths})
    np.testing.assert_allclose(pred, reg.predict(X), rtol=1e-5, atol=1e-4)


def _stream_onnx(path, x, state):
    """Feed ``x`` a step at a time through the streaming graph; its first output per step."""
    session = ort.InferenceSession(str(path))
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    rows = []
    for t in range(len(x)):
        out = session.run(None, {"x": x[t : t + 1], **{k: state[k] for k in inputs[1:]}})
        rows.append(out[0][0])
        state = {
            **state,
            **{n[: -len("_out")]: v for n, v in zip(outputs, out) if n.endswith("_out")},
        }
    return np.array(rows), inputs, outputs


@pytest.mark.parametrize(
    "estimator",
    [
        LSTMClassifier(cell="lstm", num_layers=2, pooling="attention", n_static_features=1),
        LSTMClassifier(cell="lstm", backend="explicit", pooling="max"),
        LSTMClassifier(cell="gru", pooling="mean"),
        LSTMClassifier(cell="rnn", pooling="last"),
        LSTMRegressor(pooling="mean", n_static_features=1),
    ],
    ids=["lstm-attention-static", "explicit-max", "gru-mean", "rnn-last", "regressor"],
)
def test_the_streaming_graph_gives_the_stream_rows_step_by_step(estimator, tmp_path):
    from sklstm.export import stream_state

    X = _ragged(seed=3)
    y = np.arange(len(X)) % 3
    estimator.set_params(frontend=None, hidden_size=8, max_iter=2, random_state=0)
    estimator.fit(X, y.astype(float) if isinstance(estimator, LSTMRegressor) else y)
    path = estimator.to_onnx(tmp_path / "stream.onnx", streaming=True)
    x = np.concatenate(X[:20])  # a sequence of a few hundred steps
    rows, inputs, outputs = _stream_onnx(path, x, stream_state(estimator))
    expected = estimator.stream().update(x)
    np.testing.assert_allclose(rows.reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)
    assert inputs == ["x", "count", "static", "h", "c", "pool_a", "pool_b", "pool_c"]
    assert outputs[-7:] == [f"{name}_out" for name in inputs[1:]]
    # Programs without sklstm find the initial state in the model's metadata.
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert "Infinity" not in meta["stream_state"]  # strict JSON, for any parser
    spec = json.loads(meta["stream_state"])
    for name, value in stream_state(estimator).items():
        assert list(value.shape) == spec[name]["shape"]
        np.testing.assert_array_equal(value, np.full(value.shape, spec[name]["initial"]))


def test_streaming_export_refuses_front_ends_and_bidirectional_models(tmp_path):
    X, y = _ragged(seed=4), np.arange(30) % 2
    with_frontend = LSTMClassifier(frontend="conv", max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="needs a model without a front end"):
        with_frontend.to_onnx(tmp_path / "s.onnx", streaming=True)
    both_ways = LSTMClassifier(bidirectional=True, frontend=None, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="bidirectional.*cannot stream"):
        both_ways.to_onnx(tmp_path / "s.onnx", streaming=True)
    assert not any(tmp_path.iterdir())


def test_int8_models_are_several_times_smaller_and_predict_nearly_alike(tmp_path):
    from sklstm.export import stream_state

    rng = np.random.RandomState(5)
    X = rng.randn(200, 30, 4).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    clf = LSTMClassifier(hidden_size=128, frontend=None, max_iter=5, random_state=0).fit(X, y)
    full = clf.to_onnx(tmp_path / "float32.onnx")
    small = clf.to_onnx(tmp_path / "int8.onnx", quantize=True)
    assert full.stat().st_size > 3 * small.stat().st_size
    proba, label = ort.InferenceSession(str(small)).run(
        None, {"x": X, "lengths": np.full(len(X), 30, dtype=np.int64)}
    )
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=0.02)
    assert np.mean(label == clf.predict(X)) >= 0.98
    meta = {p.key: p.value for p in onnx.load(str(small)).metadata_props}
    assert json.loads(meta["classes"]) == [0, 1]
    # The streaming graph too.
    stream = clf.to_onnx(tmp_path / "stream-int8.onnx", streaming=True, quantize=True)
    rows, _, _ = _stream_onnx(stream, X[0], stream_state(clf))
    np.testing.assert_allclose(rows, clf.stream().update(X[0]), atol=0.02)
