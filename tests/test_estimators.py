"""LSTMClassifier and LSTMRegressor: input formats, training semantics, persistence, errors."""

import io
import os
import pickle
import re
import signal
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback, LRScheduler

from sklstm import LSTMClassifier, LSTMRegressor, LSTMTagger, SequenceScaler

FAST = dict(hidden_size=12, learning_rate_init=0.02, random_state=0)

# Most tests train for a few epochs on purpose; the ones about convergence
# assert the warning (or its absence) themselves.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def ragged_problem(n=120, seed=0):
    """Label: whether feature 0 sums to more than zero; lengths 3 to 30."""
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(3, 31), 2).astype(np.float32) for _ in range(n)]
    y = np.array(["up" if x[:, 0].sum() > 0 else "down" for x in X])
    return X, y


@pytest.fixture(scope="module")
def fitted_classifier():
    X, y = ragged_problem()
    return LSTMClassifier(max_iter=40, **FAST).fit(X, y), X, y


def test_classifier_learns_ragged_sequences_with_string_labels(fitted_classifier):
    clf, X, y = fitted_classifier
    assert clf.score(X, y) >= 0.9
    assert list(clf.classes_) == ["down", "up"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-10)
    assert clf.n_features_in_ == 2
    assert len(clf.loss_curve_) == clf.n_iter_ <= 40
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert isinstance(clf.module_, torch.nn.Module)


def test_classifier_accepts_3d_and_2d_input():
    rng = np.random.RandomState(0)
    X3 = rng.randn(80, 10, 3)
    y = (X3[:, :, 1].mean(axis=1) > 0).astype(int)
    clf = LSTMClassifier(max_iter=30, **FAST).fit(X3, y)
    assert clf.n_features_in_ == 3 and clf.score(X3, y) > 0.85
    X2 = X3[:, :, 1]
    clf2 = LSTMClassifier(max_iter=30, **FAST).fit(X2, y)
    assert clf2.n_features_in_ == 10 and clf2.score(X2, y) > 0.85
    # Fitted on 2D (univariate): any-length univariate sequences are accepted too.
    assert clf2.predict([rng.randn(25), rng.randn(4)]).shape == (2,)
    with pytest.raises(ValueError, match="X has 9 features, but LSTMClassifier is expecting 10"):
        clf2.predict(X2[:, :9])


def test_multiclass_and_multioutput_regression():
    rng = np.random.RandomState(1)
    X = rng.randn(150, 8, 2)
    y = np.digitize(X[:, :, 0].sum(axis=1), [-1.5, 1.5])
    clf = LSTMClassifier(max_iter=60, **FAST).fit(X, y)
    assert clf.predict_proba(X).shape == (150, 3) and clf.score(X, y) > 0.8
    Y = np.column_stack([X[:, :, 0].sum(axis=1), 10 + 5 * X[:, -1, 1]])
    reg = LSTMRegressor(max_iter=80, **FAST).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (150, 2)
    assert reg.score(X, Y) > 0.8
    one = LSTMRegressor(max_iter=5, **FAST).fit(X, Y[:, :1])
    assert one.predict(X).shape == (150,)


def test_same_random_state_gives_identical_predictions(fitted_classifier):
    clf, X, y = fitted_classifier
    again = clone(clf).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    other = clone(clf).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("backend", ["explicit", "fused"])
def test_backends_train_to_the_same_model(backend):
    X, y = ragged_problem(60)
    params = dict(max_iter=5, bidirectional=True, num_layers=2, **FAST)
    reference = LSTMClassifier(backend="fused", **params).fit(X, y)
    other = LSTMClassifier(backend=backend, **params).fit(X, y)
    np.testing.assert_allclose(other.predict_proba(X), reference.predict_proba(X), atol=1e-4)


def test_pickle_and_joblib_round_trip_give_identical_predictions(fitted_classifier):
    clf, X, _ = fitted_classifier
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(X), expected)


def test_model_saved_on_a_gpu_loads_on_a_cpu_only_machine(fitted_classifier):
    """The net records device 'cuda'; unpickling without CUDA maps it to the CPU."""
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    clf, X, _ = fitted_classifier
    gpu_clf = pickle.loads(pickle.dumps(clf))
    gpu_clf.net_.device = "cuda"  # as if trained there: skorch stores this with the weights
    data = pickle.dumps(gpu_clf)
    with pytest.warns(UserWarning, match="no CUDA devices are available"):
        loaded = pickle.loads(data)
    assert next(loaded.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_pipeline_grid_search_with_group_kfold():
    X, y = ragged_problem(90)
    groups = np.arange(90) % 6
    pipe = make_pipeline(SequenceScaler(), LSTMClassifier(max_iter=8, **FAST))
    search = GridSearchCV(pipe, {"lstmclassifier__hidden_size": [4, 8]}, cv=GroupKFold(3))
    search.fit(X, y, groups=groups)
    scores = cross_val_score(clone(pipe), X, y, cv=3)
    assert search.best_params_["lstmclassifier__hidden_size"] in (4, 8)
    assert search.predict(X).shape == (90,)
    assert scores.shape == (3,)


def test_early_stopping_restores_the_best_epoch():
    X, y = ragged_problem(200, seed=3)
    clf = LSTMClassifier(
        max_iter=40, early_stopping=True, n_iter_no_change=3, validation_fraction=0.25, **FAST
    )
    clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The restored weights reproduce the best validation score on the same split.
    history = clf.net_.history
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert history[best_epoch, "valid_score"] == clf.best_validation_score_


def test_stops_when_training_loss_stalls_without_warning():
    X, y = ragged_problem(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = LSTMClassifier(
            max_iter=500, tol=1e6, n_iter_no_change=2, learning_rate="constant", **FAST
        ).fit(X, y)
    assert clf.n_iter_ == 4  # the first epoch sets the best, then 3 without improvement


def test_maximum_iterations_warns_convergence():
    X, y = ragged_problem(30)
    with pytest.warns(ConvergenceWarning, match=re.escape("Maximum iterations (2) reached")):
        LSTMClassifier(max_iter=2, learning_rate="constant", **FAST).fit(X, y)


def test_warm_start_and_partial_fit_continue_training():
    X, y = ragged_problem(60)
    clf = LSTMClassifier(max_iter=3, warm_start=True, **FAST)
    clf.fit(X, y)
    first = clf.module_.head.weight.detach().clone()
    clf.fit(X, y)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert not torch.equal(first, clf.module_.head.weight)

    inc = LSTMClassifier(**FAST)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        inc.partial_fit(X, y)
    inc.partial_fit(X[:30], y[:30], classes=["down", "up"])
    inc.partial_fit(X[30:], y[30:])
    assert inc.n_iter_ == 2 and list(inc.classes_) == ["down", "up"]
    assert not hasattr(LSTMClassifier(solver="lbfgs"), "partial_fit")


def test_zero_sample_weight_equals_dropping_the_samples():
    X, y = ragged_problem(40)
    weights = np.ones(40)
    weights[::3] = 0
    params = dict(solver="lbfgs", max_iter=15, **FAST)
    weighted = LSTMClassifier(**params).fit(X, y, sample_weight=weights)
    dropped = LSTMClassifier(**params).fit([x for x, w in zip(X, weights) if w], y[weights > 0])
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X), atol=1e-7)


def test_class_weight_shifts_predictions_toward_the_weighted_class():
    X, y = ragged_problem(120)
    params = dict(max_iter=15, **FAST)
    plain = LSTMClassifier(**params).fit(X, y)
    heavy = LSTMClassifier(class_weight={"up": 20.0, "down": 1.0}, **params).fit(X, y)
    balanced = LSTMClassifier(class_weight="balanced", **params).fit(X, y)
    assert (heavy.predict(X) == "up").mean() > (plain.predict(X) == "up").mean()
    assert balanced.score(X, y) > 0.5


def test_callbacks_are_passed_to_skorch():
    X, y = ragged_problem(40)
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    clf = LSTMClassifier(max_iter=3, callbacks=[("lr", scheduler)], **FAST).fit(X, y)
    lr = clf.net_.optimizer_.param_groups[0]["lr"]
    assert lr == pytest.approx(0.02 * 0.5**3)


def test_verbose_prints_per_epoch_losses(capsys):
    X, y = ragged_problem(40)
    LSTMClassifier(max_iter=2, verbose=1, early_stopping=True, **FAST).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out and "valid_score" in out
    assert len(re.findall(r"^\s+[12]\s", out, flags=re.M)) == 2  # one row per epoch


def test_device_auto_resolves_and_bad_device_is_rejected():
    X, y = ragged_problem(30)
    clf = LSTMClassifier(max_iter=1, device="auto", **FAST).fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(clf.module_.parameters()).device.type == expected
    with pytest.raises(ValueError, match="not a valid torch device"):
        LSTMClassifier(device="gpu0", **FAST).fit(X, y)


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        (np.zeros(5), [0, 1, 0, 1, 0], ValueError, "Reshape your data"),
        (np.zeros((4, 3, 2, 2)), [0, 1, 0, 1], ValueError, "got a 4D array"),
        (np.zeros((0, 3, 2)), [], ValueError, "minimum of 1 is required"),
        (np.zeros((4, 3, 2)), [0, 1, 0], ValueError, "inconsistent numbers of samples"),
        ([np.zeros((3, 2)), np.zeros((4, 3))], [0, 1], ValueError, "inconsistent numbers of"),
        (np.full((4, 3, 2), np.nan), [0, 1, 0, 1], ValueError, "NaN"),
        (np.full((4, 3), np.inf), [0, 1, 0, 1], ValueError, "infinity"),
        (sp.csr_matrix(np.eye(4)), [0, 1, 0, 1], TypeError, "[Ss]parse"),
        (np.zeros((4, 3, 2)), None, ValueError, "requires y to be passed"),
        (np.zeros((4, 3, 2)), [0.5, 1.2, 0.1, 3.3], ValueError, "Unknown label type"),
    ],
)
def test_bad_input_gets_a_clear_error(X, y, error, match):
    with pytest.raises(error, match=match):
        LSTMClassifier(max_iter=1).fit(X, y)


def test_predict_errors(fitted_classifier):
    clf, X, _ = fitted_classifier
    with pytest.raises(NotFittedError):
        LSTMClassifier().predict(X)
    with pytest.raises(ValueError, match="X has 3 features per time step, but LSTMClassifier"):
        clf.predict([np.zeros((4, 3))])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict([np.full((4, 2), np.nan)])


def test_invalid_parameters_are_rejected_by_name():
    X, y = ragged_problem(10)
    with pytest.raises(ValueError, match="'hidden_size' parameter of LSTMClassifier"):
        LSTMClassifier(hidden_size=0).fit(X, y)
    with pytest.raises(ValueError, match="'cell' parameter"):
        LSTMClassifier(cell="transformer").fit(X, y)


def test_regressor_standardizes_targets_internally():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 6, 1)
    y = 1000.0 + 50.0 * X[:, -1, 0]
    reg = LSTMRegressor(max_iter=60, **FAST).fit(X, y)
    assert reg.score(X, y) > 0.9
    np.testing.assert_allclose(reg._y_mean, [y.mean()])
    np.testing.assert_allclose(reg._y_scale, [y.std()])


class _Sabotage(Callback):
    """Poison the weights with NaN, or press Ctrl-C, at a chosen epoch."""

    def __init__(self, epoch, action):
        self.epoch = epoch
        self.action = action

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            if self.action == "nan":
                with torch.no_grad():
                    net.module_.head.weight.fill_(float("nan"))
            else:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered here and now


def test_divergence_keeps_the_last_finite_epoch_and_warns():
    X, y = ragged_problem(40)
    clf = LSTMClassifier(max_iter=5, callbacks=[_Sabotage(3, "nan")], **FAST)
    with pytest.warns(ConvergenceWarning, match="diverged after 2 epoch"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2
    assert np.isfinite(clf.predict_proba(X)).all()


def test_divergence_in_the_first_epoch_is_an_error_and_leaves_no_model():
    X, y = ragged_problem(40)
    clf = LSTMClassifier(max_iter=5, callbacks=[_Sabotage(1, "nan")], **FAST)
    with pytest.raises(ValueError, match="diverged in the first epoch"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_ctrl_c_keeps_the_model_trained_so_far(early_stopping):
    X, y = ragged_problem(60)
    clf = LSTMClassifier(
        max_iter=10, early_stopping=early_stopping, callbacks=[_Sabotage(4, "ctrl-c")], **FAST
    )
    with pytest.warns(UserWarning, match="interrupted after 3 of 10 epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert np.isfinite(clf.predict_proba(X)).all()
    with pytest.raises(KeyboardInterrupt):
        LSTMClassifier(max_iter=3, callbacks=[_Sabotage(1, "ctrl-c")], **FAST).fit(X, y)


@pytest.mark.parametrize(
    "backend, bidirectional", [("explicit", False), ("explicit", True), ("fused", False)]
)
def test_predictions_are_the_same_bits_alone_or_in_a_batch(backend, bidirectional):
    """Inference batches are padded to whole SIMD vectors: every row rounds the same way.

    (The fused bidirectional backend packs ragged batches, whose per-step batch
    sizes vary; it agrees to 1e-5, see test_network.py.)
    """
    X, y = ragged_problem(60)
    params = dict(max_iter=2, backend=backend, bidirectional=bidirectional, **FAST)
    clf = LSTMClassifier(**params).fit(X, y)
    together = clf.predict_proba(X)
    alone = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(60)])
    np.testing.assert_array_equal(alone, together)


def test_static_features_are_validated_and_used():
    rng = np.random.RandomState(0)
    X = [np.c_[rng.randn(n, 2), np.full((n, 1), rng.randn())] for n in rng.randint(3, 15, 80)]
    y = np.array([int(x[0, 2] > 0) for x in X])
    clf = LSTMClassifier(n_static_features=1, max_iter=40, frontend=None, **FAST).fit(X, y)
    assert clf.module_.head.in_features == 12 + 1 and clf.score(X, y) > 0.85
    with pytest.raises(ValueError, match="n_static_features=3 leaves no step features"):
        LSTMClassifier(n_static_features=3, **FAST).fit(X, y)


def test_class_weight_dicts_match_labels_that_read_as_numbers():
    # scikit-learn 1.9's compute_class_weight turns "0", "1" into ints before the
    # lookup, so a dict keyed by spoken digits never matched; sklstm looks them up as
    # they are.
    from sklstm.classifier import class_weights

    classes = np.array(["0", "1", "_"])
    np.testing.assert_array_equal(
        class_weights({"0": 2.0, "_": 0.5}, classes=classes, y=classes), [2.0, 1.0, 0.5]
    )
    np.testing.assert_array_equal(
        class_weights({0: 3.0}, classes=np.array([0, 1]), y=np.array([0, 1])), [3.0, 1.0]
    )
    with pytest.raises(ValueError, match=r"The classes, \['1'\], are not in class_weight"):
        class_weights({"0": 2.0, "7": 1.0}, classes=classes[:2], y=classes[:2])
    X, y = ragged_problem(20)
    digits = np.where(y == "up", "1", "0")
    clf = LSTMClassifier(max_iter=1, class_weight={"1": 5.0, "0": 1.0}, **FAST).fit(X, digits)
    np.testing.assert_array_equal(clf._target_weight(np.array([0, 1, 1])), [1.0, 5.0, 5.0])
    tagger = LSTMTagger(max_iter=1, class_weight={"1": 5.0, "0": 1.0}, **FAST)
    tagger.fit(X, [np.full(len(x), d) for x, d in zip(X, digits)])
    assert list(tagger.classes_) == ["0", "1"]
