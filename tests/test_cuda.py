"""CUDA by the book: training, prediction, files and export on a GPU (skipped without one)."""

import copy

import numpy as np
import pytest
import torch

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


def _long_ragged(n=32, seed=0):
    rng = np.random.RandomState(seed)
    X = [
        np.cumsum(rng.randn(rng.randint(40, 160), 2), axis=0).astype(np.float32) for _ in range(n)
    ]
    return X, np.array([int(x[-1, 0] > x[0, 0]) for x in X])


@pytest.mark.parametrize("backend", ["fused", "explicit"])
@pytest.mark.parametrize("frontend", [None, "conv"])
def test_a_model_trained_on_the_gpu_predicts_like_its_cpu_copy(backend, frontend):
    X, y = _long_ragged()
    clf = LSTMClassifier(
        hidden_size=8,
        max_iter=3,
        backend=backend,
        frontend=frontend,
        bidirectional=True,
        device="cuda",
        random_state=0,
    ).fit(X, y)
    assert all(p.is_cuda for p in clf.module_.parameters())
    proba = clf.predict_proba(X)
    # cuDNN chooses its kernels by batch shape: on a GPU a sequence alone and in
    # a batch agree to rounding (the front end's convolutions to 1e-7, cuDNN's
    # LSTM to a few 1e-6 on an H200), not to the bit as on a CPU.
    for i in (0, 5, 17):
        np.testing.assert_allclose(clf.predict_proba([X[i]])[0], proba[i], atol=1e-5)
    cpu = copy.deepcopy(clf)
    cpu.net_.module_.cpu()
    np.testing.assert_allclose(cpu.predict_proba(X), proba, atol=1e-4)


def test_gpu_model_files_and_onnx_export_reproduce_predictions(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = _long_ragged()
    reg = LSTMRegressor(hidden_size=8, max_iter=3, device="cuda", random_state=0)
    reg.fit(X, y.astype(float))
    sklstm.save(reg, tmp_path / "reg.sklstm")
    loaded = sklstm.load(tmp_path / "reg.sklstm")
    np.testing.assert_allclose(loaded.predict(X), reg.predict(X), rtol=1e-6, atol=1e-6)
    session = ort.InferenceSession(str(reg.to_onnx(tmp_path / "reg.onnx")))
    lengths = np.array([len(x) for x in X], dtype=np.int64)
    padded = np.zeros((len(X), lengths.max(), 2), np.float32)
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    (pred,) = session.run(None, {"x": padded, "lengths": lengths})
    np.testing.assert_allclose(pred[:, 0], reg.predict(X), rtol=1e-4, atol=1e-4)


def test_one_cycle_training_on_the_gpu_is_reproducible():
    X, y = _long_ragged()
    params = dict(hidden_size=8, max_iter=4, device="cuda", random_state=0)
    first = LSTMClassifier(**params).fit(X, y).predict_proba(X)
    second = LSTMClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(first, second, atol=1e-5)


@pytest.mark.parametrize("frontend", [None, "conv"])
def test_a_model_on_the_gpu_streams_its_prefixes(frontend):
    X, y = _long_ragged()
    clf = LSTMClassifier(
        hidden_size=8, max_iter=2, frontend=frontend, pooling="attention", device="cuda",
        random_state=0,
    ).fit(X, y)  # fmt: skip
    x = X[3]
    stream = clf.stream()
    rows = np.concatenate([stream.update(x[i : i + 9]) for i in range(0, len(x), 9)])
    expected = np.stack([clf.predict_proba([x[: t + 1]])[0] for t in range(len(x))])
    np.testing.assert_allclose(rows, expected, atol=1e-5)
