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
