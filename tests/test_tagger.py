"""LSTMTagger: one label per time step, ragged like the rest, as scikit-learn-like as it can be."""

import pickle

import numpy as np
import pytest
import torch
from _ctrl_c import CtrlCAt
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import sklstm
from sklstm import LSTMTagger, SequenceScaler
from sklstm._training import IGNORED_STEP, StepCrossEntropy
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FAST = dict(hidden_size=12, learning_rate_init=0.02, random_state=0)


def running_sign(n=80, seed=0, low=4, high=20):
    """Each step's label: whether feature 0 has summed to more than zero so far."""
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(low, high), 2).astype(np.float32) for _ in range(n)]
    return X, [np.where(np.cumsum(x[:, 0]) > 0, "up", "down") for x in X]


@pytest.fixture(scope="module")
def fitted():
    X, y = running_sign()
    return LSTMTagger(max_iter=40, **FAST).fit(X, y), X, y


def test_learns_a_label_that_needs_memory_of_the_past_steps(fitted):
    tagger, X, y = fitted
    X_new, y_new = running_sign(60, seed=1)
    assert tagger.score(X_new, y_new) > 0.95
    assert tagger.classes_.tolist() == ["down", "up"]
    assert tagger.n_features_in_ == 2 and tagger.interrupted_ is False


def test_outputs_have_the_shape_of_the_input(fitted):
    tagger, X, _ = fitted
    labels, proba = tagger.predict(X[:3]), tagger.predict_proba(X[:3])
    assert [len(a) for a in labels] == [len(x) for x in X[:3]]
    assert [p.shape for p in proba] == [(len(x), 2) for x in X[:3]]
    for p, log_p in zip(proba, tagger.predict_log_proba(X[:3])):
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(np.exp(log_p), p, rtol=1e-6)
    # Equal lengths in, arrays out: a 3D array gives (n, T) labels, (n, T, C) probabilities.
    cube = np.stack([x[:4] for x in X[:5]])
    assert tagger.predict(cube).shape == (5, 4)
    assert tagger.predict_proba(cube).shape == (5, 4, 2)
    np.testing.assert_array_equal(tagger.predict(cube)[2], tagger.predict([cube[2]])[0])


def test_univariate_series_as_a_2d_array():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 15)
    y = (np.cumsum(X, axis=1) > 0).astype(int)
    tagger = LSTMTagger(max_iter=30, **FAST).fit(X, y)
    assert tagger.predict(X).shape == (60, 15) and tagger.score(X, y) > 0.9


@pytest.mark.parametrize(
    "backend, bidirectional", [("explicit", False), ("explicit", True), ("fused", False)]
)
def test_a_sequences_labels_do_not_depend_on_its_batch(backend, bidirectional):
    X, y = running_sign()
    params = dict(max_iter=2, backend=backend, bidirectional=bidirectional, **FAST)
    tagger = LSTMTagger(**params).fit(X, y)
    together = tagger.predict_proba(X)
    for i in (0, 7, 33):
        np.testing.assert_array_equal(tagger.predict_proba([X[i]])[0], together[i])


@pytest.mark.parametrize("frontend", [None, "conv"])
def test_unidirectional_labels_see_only_the_past(frontend):
    """Label t of a sequence is the label of step t of its prefix: a causal model."""
    X, y = running_sign()
    tagger = LSTMTagger(max_iter=2, frontend=frontend, backend="explicit", **FAST).fit(X, y)
    x = X[5]
    whole = tagger.predict_proba([x])[0]
    prefixes = np.stack([tagger.predict_proba([x[: t + 1]])[0][t] for t in range(len(x))])
    if frontend is None:
        np.testing.assert_allclose(prefixes, whole, atol=1e-6)
    else:  # the front end's convolutions also read a few steps ahead
        assert not np.allclose(prefixes, whole, atol=1e-6)


def test_the_loss_is_the_weighted_mean_cross_entropy_of_the_valid_steps():
    X, y = running_sign(12)
    weights = np.linspace(0.5, 2.0, len(X))
    tagger = LSTMTagger(max_iter=1, class_weight={"down": 1.0, "up": 3.0}, **FAST)
    tagger.fit(X, y, sample_weight=weights)
    net = tagger.net_
    from sklstm._training import SequenceDataset

    targets = tagger._encode_target(
        y,
        reset=False,
        classes=None,
        sample_weight=weights,
        lengths=np.array([len(x) for x in X]),
    )
    sequences = sklstm._sequences.as_sequences(X)
    dataset = SequenceDataset(sequences, targets, weights.astype(np.float32))
    batch, (labels, step_weights) = dataset.batch(np.arange(len(X)))
    net.weight_scale = dataset.mean_weight()
    with torch.no_grad():
        logits = net.infer(batch)
        loss = net.get_loss(logits, (labels, step_weights)).item()
    # By hand: every valid step's cross-entropy, weighted by class and sequence.
    total, mass, count = 0.0, 0.0, 0  # the mean over steps, weighted
    for b, (x, labels_b) in enumerate(zip(X, y)):
        step_logits = torch.log_softmax(logits[: len(x), b].double(), dim=1).numpy()
        index = (labels_b == "up").astype(int)
        w = weights[b] * np.where(index == 1, 3.0, 1.0)
        total += float(np.sum(-step_logits[np.arange(len(x)), index] * w))
        mass += float(w.sum())
        count += len(x)
    # (The L2 penalty is added only when training.)
    assert loss == pytest.approx(total / mass, rel=1e-5)
    assert int((labels == IGNORED_STEP).sum()) == len(X) * int(labels.shape[0]) - count


def test_step_cross_entropy_ignores_padded_steps():
    logits = torch.randn(5, 3, 4)
    labels = torch.tensor([[0, 1, 2], [3, 0, IGNORED_STEP], [1, IGNORED_STEP, IGNORED_STEP]] * 2)
    labels = labels[:5]
    losses = StepCrossEntropy()(logits, labels)
    assert losses.shape == (5, 3)
    assert torch.all(losses[labels == IGNORED_STEP] == 0)
    valid = labels != IGNORED_STEP
    reference = torch.nn.functional.cross_entropy(logits[valid], labels[valid], reduction="none")
    torch.testing.assert_close(losses[valid], reference)


def test_bad_targets_get_errors_that_name_the_problem():
    X, y = running_sign(10)
    tagger = LSTMTagger(max_iter=1, **FAST)
    with pytest.raises(ValueError, match=r"y\[3\] has 2 labels, but sequence 3 of X has"):
        tagger.fit(X, [labels[:2] if i == 3 else labels for i, labels in enumerate(y)])
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[10, 9\]"):
        tagger.fit(X, y[:9])
    with pytest.raises(ValueError, match=r"y\[0\] must be a 1D array of labels"):
        tagger.fit(X, [np.stack([labels, labels], 1) for labels in y])
    with pytest.raises(
        ValueError, match=r"y\[0\] must be a 1D array of labels, one per step, got shape \(\)"
    ):
        tagger.fit(X, np.array([labels[0] for labels in y]))  # one label per sequence
    fitted = tagger.fit(X, y)
    with pytest.raises(ValueError, match=r"labels not seen .*'sideways'"):
        fitted.partial_fit(X[:1], [np.full(len(X[0]), "sideways")])


def test_class_weight_and_partial_fit():
    X, y = running_sign(40)
    tagger = LSTMTagger(max_iter=1, class_weight="balanced", **FAST)
    targets = tagger.fit(X, y)._encode_target(
        y, reset=False, classes=None, sample_weight=None, lengths=[len(x) for x in X]
    )
    flat = np.concatenate(y)
    n_up = np.sum(flat == "up")
    expected_up = len(flat) / (2 * n_up)
    np.testing.assert_allclose(
        targets.weights.data[:, 0],
        np.where(flat == "up", expected_up, len(flat) / (2 * (len(flat) - n_up))),
        rtol=1e-6,
    )
    online = LSTMTagger(**FAST)
    with pytest.raises(ValueError, match="classes must be passed"):
        online.partial_fit(X, y)
    online.partial_fit(X, y, classes=["down", "up", "flat"])
    online.partial_fit(X, y)
    assert online.n_iter_ == 2 and online.predict_proba(X[:1])[0].shape[1] == 3


def test_early_stopping_scores_the_held_out_steps():
    X, y = running_sign(80)
    tagger = LSTMTagger(max_iter=15, early_stopping=True, **FAST).fit(X, y)
    assert len(tagger.validation_scores_) == tagger.n_iter_
    assert 0.5 < tagger.best_validation_score_ <= 1.0


def test_clone_pipeline_grid_search_and_cross_validation():
    X, y = running_sign(48)
    groups = np.arange(48) % 4
    pipe = make_pipeline(SequenceScaler(), LSTMTagger(max_iter=5, **FAST))
    search = GridSearchCV(pipe, {"lstmtagger__hidden_size": [4, 8]}, cv=GroupKFold(2))
    search.fit(X, y, groups=groups)
    assert set(search.cv_results_["param_lstmtagger__hidden_size"]) == {4, 8}
    assert 0.0 <= search.best_score_ <= 1.0
    assert len(search.predict(X[:2])) == 2
    scores = cross_val_score(clone(pipe), X, y, cv=GroupKFold(2), groups=groups)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
    ],
)
def test_the_scikit_learn_checks_that_do_not_need_one_target_per_sample(check):
    check("LSTMTagger", LSTMTagger())


def test_pickle_model_file_and_onnx_give_the_same_labels(fitted, tmp_path):
    tagger, X, _ = fitted
    expected = tagger.predict_proba(X[:4])
    for copy in (pickle.loads(pickle.dumps(tagger)), _roundtrip(tagger, tmp_path)):
        for a, b in zip(copy.predict_proba(X[:4]), expected):
            np.testing.assert_array_equal(a, b)
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    session = onnxruntime.InferenceSession(str(tagger.to_onnx(tmp_path / "tagger.onnx")))
    lengths = np.array([len(x) for x in X[:4]])
    batch = np.zeros((4, lengths.max(), 2), np.float32)
    for i, x in enumerate(X[:4]):
        batch[i, : len(x)] = x
    proba, label = session.run(None, {"x": batch, "lengths": lengths})
    for i in range(4):
        np.testing.assert_allclose(proba[i, : lengths[i]], expected[i], atol=1e-5)
        assert (label[i, lengths[i] :] == -1).all()
        assert (proba[i, lengths[i] :] == 0).all()


def _roundtrip(tagger, tmp_path):
    path = tmp_path / "tagger.sklstm"
    sklstm.save(tagger, path)
    return sklstm.load(path)


def test_a_resumed_fit_ends_as_the_uninterrupted_one(tmp_path):
    X, y = running_sign(40)
    params = dict(max_iter=6, learning_rate="constant", **FAST)
    uninterrupted = LSTMTagger(**params).fit(X, y)
    path = tmp_path / "run.ckpt"
    interrupted = LSTMTagger(
        **params, callbacks=[ResumableCheckpoint(path), CtrlCAt("epoch_begin", 4)]
    )
    with pytest.warns(UserWarning, match="interrupted after 3 of 6 epochs"):
        interrupted.fit(X, y)
    resumed = load_checkpoint(path).fit(X, y)
    assert resumed.n_iter_ == 6
    for a, b in zip(resumed.predict_proba(X), uninterrupted.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="other data"):
        load_checkpoint(path).fit(X, [labels[::-1] for labels in y])


def test_a_strided_front_end_is_refused_for_one_output_per_step():
    from sklstm.nn import SequenceNetwork

    with pytest.raises(ValueError, match="pooling=None\\) needs frontend_stride=1"):
        SequenceNetwork(
            input_size=2, output_size=2, pooling=None, frontend="conv", frontend_stride=2
        )
