"""Property-based tests: odd input either works or fails with a clear error.

Hypothesis draws shapes (empty, single step, long), formats (3D, 2D, ragged,
1D, 4D), dtypes (ints, bools, float16/32/64, objects, strings), values (NaN,
infinity, constants, huge numbers) and targets (one class, strings, mixed,
unseen labels at score time). Every call must either succeed with finite
output of the right shape, or raise ValueError, TypeError or NotFittedError
with a message; never another exception and never NaN.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from sklstm import LSTMClassifier, LSTMRegressor, PadTruncate, SequenceScaler

EXAMPLES = 60
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLEAR_ERRORS = (ValueError, TypeError, NotFittedError)

VALUES = st.sampled_from(["normal", "constant", "huge", "tiny", "nan", "inf", "overflow"])
DTYPES = st.sampled_from(["float64", "float32", "float16", "int64", "int8", "bool", "object"])


def _values(rng, shape, kind, dtype):
    if kind == "constant":
        x = np.full(shape, 3.0)
    elif kind == "huge":
        x = rng.randn(*shape) * 1e30
    elif kind == "tiny":
        x = rng.randn(*shape) * 1e-30
    elif kind == "overflow":
        x = rng.randn(*shape) * 1e300  # finite in float64, infinite in float32
    else:
        x = rng.randn(*shape)
    if kind in ("nan", "inf") and x.size:
        x.flat[rng.randint(x.size)] = np.nan if kind == "nan" else np.inf
    if dtype == "object":
        return x.astype(object)
    with np.errstate(all="ignore"):
        return x.astype(dtype)


@st.composite
def sequence_inputs(draw):
    """Any of the formats, valid or not, with the number of sequences."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    fmt = draw(st.sampled_from(["3d", "2d", "ragged", "1d", "4d", "strings", "mixed_features"]))
    n = draw(st.sampled_from([0, 1, 2, 3, 7]))
    kind, dtype = draw(VALUES), draw(DTYPES)
    if fmt == "3d":
        shape = (n, draw(st.sampled_from([0, 1, 4, 60])), draw(st.sampled_from([0, 1, 3])))
        return _values(rng, shape, kind, dtype), n
    if fmt == "2d":
        return _values(rng, (n, draw(st.sampled_from([0, 1, 5]))), kind, dtype), n
    if fmt == "1d":
        return _values(rng, (n,), kind, dtype), n
    if fmt == "4d":
        return _values(rng, (n, 2, 2, 2), kind, dtype), n
    if fmt == "strings":
        return [np.array([["a", "b"]] * 3)] * max(n, 1), max(n, 1)
    lengths = [draw(st.sampled_from([0, 1, 2, 9, 80])) for _ in range(n)]
    features = [2] * n
    if fmt == "mixed_features" and n > 1:
        features[-1] = 3
    return [_values(rng, (T, F), kind, dtype) for T, F in zip(lengths, features)], n


@st.composite
def targets(draw, n, regression):
    kind = draw(st.sampled_from(["ints", "one_class", "strings", "mixed", "floats", "nan", "2d"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    if kind == "one_class":
        return np.zeros(n, dtype=int)
    if kind == "strings":
        return np.array(["cat", "dog"])[rng.randint(0, 2, n)]
    if kind == "mixed":
        return np.array(["cat", 1] * n, dtype=object)[:n]
    if kind == "floats":
        return rng.randn(n)
    if kind == "nan":
        y = rng.randn(n)
        y[: max(n // 2, 1)] = np.nan
        return y
    if kind == "2d":
        return rng.randn(n, 2) if regression else rng.randint(0, 2, (n, 2))
    return rng.randint(0, 3, n)


def _call(fn, *args):
    """Run ``fn``; return its result, or None when it refused clearly."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # includes ConvergenceWarning
            return fn(*args)
    except CLEAR_ERRORS as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None


def _check_output(out, n_expected):
    if isinstance(out, list):
        assert len(out) == n_expected
        assert all(np.isfinite(np.asarray(o, dtype=float)).all() for o in out)
    else:
        assert len(out) == n_expected
        if out.dtype.kind in "fc":
            assert np.isfinite(out).all(), "non-finite output"


@pytest.mark.parametrize("Estimator", [LSTMClassifier, LSTMRegressor])
@SETTINGS
@given(data=st.data())
def test_estimators_accept_or_clearly_refuse_any_input(Estimator, data):
    X, n = data.draw(sequence_inputs())
    regression = Estimator is LSTMRegressor
    y = data.draw(targets(n, regression))
    est = Estimator(hidden_size=3, max_iter=2, random_state=0)
    assert _call(est.predict, X) is None  # not fitted: refused
    if _call(est.fit, X, y) is None:
        return
    for method in ("predict", "predict_proba") if not regression else ("predict",):
        out = _call(getattr(est, method), X)
        assert out is not None, f"{method} refused the data fit accepted"
        _check_output(out, n)
    # Other data at predict time: unseen labels, other lengths, other formats.
    X_other, n_other = data.draw(sequence_inputs())
    out = _call(est.predict, X_other)
    if out is not None:
        _check_output(out, n_other)
    if not regression:
        unseen = np.array(["never-seen"] * n, dtype=object)
        score = _call(est.score, X, unseen)
        assert score is None or 0.0 <= score <= 1.0


@pytest.mark.parametrize("Transformer", [SequenceScaler, PadTruncate])
@SETTINGS
@given(data=st.data())
def test_transformers_accept_or_clearly_refuse_any_input(Transformer, data):
    X, n = data.draw(sequence_inputs())
    transformer = Transformer()
    assert _call(transformer.transform, X) is None
    out = _call(transformer.fit_transform, X)
    if out is None:
        return
    _check_output(out, n)
    X_other, n_other = data.draw(sequence_inputs())
    out = _call(transformer.transform, X_other)
    if out is not None:
        _check_output(out, n_other)
