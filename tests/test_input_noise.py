"""input_noise: the estimators' built-in training noise, relative to each feature's spread."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor, LSTMTagger


class BatchSpy(Callback):
    """Keep a copy of every batch's inputs as the network reads them (after the noise)."""

    def __init__(self):
        self.training, self.validation = [], []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        x = batch[0].x.numpy().copy()  # [shape=(T, B, F)]
        (self.training if training else self.validation).append(x)


def identical_sequences(n=64, steps=50):
    """``n`` copies of one 3-feature sequence: the clean value of every batch step is known."""
    t = np.linspace(0, 6 * np.pi, steps)
    one = np.stack([np.sin(t), 100 * np.cos(t), np.full(steps, 5.0)], axis=1)
    one = one.astype(np.float32)
    return np.repeat(one[None], n, axis=0), one


@pytest.mark.parametrize("estimator", [LSTMClassifier, LSTMRegressor])
def test_noise_is_input_noise_times_each_features_std_on_training_batches_only(estimator):
    X, one = identical_sequences()
    y = np.arange(len(X)) % 2
    spy = BatchSpy()
    model = estimator(hidden_size=4, max_iter=2, early_stopping=True, random_state=0)
    model.set_params(input_noise=0.2, callbacks=[spy]).fit(X, y)
    noise = np.concatenate([x - one[:, None, :] for x in spy.training], axis=1)
    noise = noise.reshape(-1, 3)
    # std over the training steps (sin: 0.70, 100 cos: 70.7, a constant: 0) times 0.2
    expected = 0.2 * one.std(axis=0)
    np.testing.assert_allclose(noise.std(axis=0)[:2], expected[:2], rtol=0.04)
    assert np.count_nonzero(noise[:, 2]) == 0  # a constant feature stays constant
    assert spy.validation
    for x in spy.validation:
        np.testing.assert_array_equal(x, np.broadcast_to(one[:, None, :], x.shape))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 3 iterations
def test_the_tagger_and_lbfgs_train_on_clean_inputs():
    X, one = identical_sequences(n=16, steps=20)
    spy = BatchSpy()
    y = [np.arange(20) % 2 for _ in X]
    assert LSTMTagger().input_noise == 0.0  # it did not gain on the ECG tagger
    LSTMTagger(hidden_size=4, max_iter=1, callbacks=[spy], random_state=0).fit(X, y)
    for x in spy.training:
        np.testing.assert_array_equal(x, np.broadcast_to(one[:, None, :], x.shape))
    targets = np.arange(len(X)) % 3
    settings = dict(hidden_size=4, max_iter=3, solver="lbfgs", random_state=0)
    quiet = LSTMRegressor(**settings, input_noise=0.0).fit(X, targets)
    loud = LSTMRegressor(**settings, input_noise=0.5).fit(X, targets)
    np.testing.assert_array_equal(loud.predict(X), quiet.predict(X))


def test_input_noise_changes_training_reproducibly_and_zero_turns_it_off():
    rng = np.random.RandomState(0)
    X = [rng.randn(rng.randint(8, 30), 2).astype(np.float32) for _ in range(48)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    settings = dict(hidden_size=8, max_iter=5, random_state=0)
    default = LSTMClassifier(**settings).fit(X, y)
    assert default.input_noise == 0.1
    again = LSTMClassifier(**settings).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), default.predict_proba(X))
    off = LSTMClassifier(**settings, input_noise=0.0).fit(X, y)
    assert not np.allclose(off.predict_proba(X), default.predict_proba(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_resumed_warm_start_fit_draws_the_noise_of_the_uninterrupted_one(tmp_path):
    from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint

    class Crash(Exception):
        pass

    class CrashAt(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 5:  # the third epoch of the second fit
                raise Crash

    rng = np.random.RandomState(0)
    X = [rng.randn(rng.randint(3, 20), 2) for _ in range(60)]
    y = np.array([int(x[:, 0].sum() > 0) for x in X])
    params = dict(hidden_size=8, max_iter=3, input_noise=0.3, random_state=0)
    uninterrupted = LSTMClassifier(**params).fit(X, y)
    uninterrupted.set_params(warm_start=True, max_iter=6).fit(X, y)
    path = tmp_path / "run.ckpt"
    first = LSTMClassifier(**params, callbacks=[ResumableCheckpoint(path), CrashAt()]).fit(X, y)
    with pytest.raises(Crash):
        first.set_params(warm_start=True, max_iter=6).fit(X, y)
    resumed = load_checkpoint(path)
    resumed.fit(X, y)
    assert resumed.n_iter_ == uninterrupted.n_iter_ == 9
    assert resumed.loss_curve_ == uninterrupted.loss_curve_
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))


def test_the_noise_scale_is_the_first_fits_and_static_features_count_per_sequence():
    rng = np.random.RandomState(0)
    X = [rng.randn(rng.randint(5, 40), 3).astype(np.float32) for _ in range(30)]
    for x in X:
        x[:, 2] = rng.randn()  # a static feature: one value per sequence
    y = np.arange(len(X)) % 2
    clf = LSTMClassifier(hidden_size=4, max_iter=1, n_static_features=1, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    steps = np.concatenate(X)
    expected = [steps[:, 0].std(), steps[:, 1].std(), np.std([x[0, 2] for x in X])]
    np.testing.assert_allclose(clf.feature_scale_, expected, rtol=1e-6)
    spy = BatchSpy()
    clf.set_params(callbacks=[spy]).partial_fit([10 * x for x in X], y)
    np.testing.assert_allclose(clf.feature_scale_, expected, rtol=1e-6)  # kept
    np.testing.assert_allclose(
        dict(clf.net_.callbacks_)["input_noise"].std, 0.1 * np.array(expected), rtol=1e-6
    )


def test_each_process_draws_its_own_noise(monkeypatch):
    from sklstm import _distributed
    from sklstm._training import InputNoise

    def draw(rank):
        monkeypatch.setattr(_distributed, "world", lambda: (rank, 2))
        noise = InputNoise()
        noise.start(np.ones(2), seed=7, next_epoch=3)
        noise.on_train_begin(None)
        noise.on_epoch_begin(None)
        return torch.randn(5, generator=noise.generator_)

    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(1))


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -0.1])
def test_a_bad_input_noise_is_refused_before_anything_changes(bad):
    X, _ = identical_sequences(n=8, steps=5)
    clf = LSTMClassifier(input_noise=bad)
    with pytest.raises(ValueError, match=r"'input_noise' parameter .* range \[0.0, inf\)"):
        clf.fit(X, np.arange(8) % 2)
    assert not hasattr(clf, "net_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_continued_training_runs_the_callbacks_set_since():
    class Count(Callback):
        def __init__(self):
            self.epochs = 0

        def on_epoch_begin(self, net, **kwargs):
            self.epochs += 1

    X, _ = identical_sequences(n=20, steps=5)
    y = np.arange(20) % 2
    clf = LSTMClassifier(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    count = Count()
    clf.set_params(callbacks=[count], warm_start=True, input_noise=0.3).fit(X, y)
    clf.set_params(tol=0.5, n_iter_no_change=3).partial_fit(X, y)
    assert count.epochs == 3 and clf.n_iter_ == 5
    monitor = dict(clf.net_.callbacks_)["monitor"]
    assert (monitor.tol, monitor.n_iter_no_change) == (0.5, 3)
    np.testing.assert_allclose(
        dict(clf.net_.callbacks_)["input_noise"].std[:2], 0.3 * X.std(axis=(0, 1))[:2], rtol=1e-5
    )


def test_feature_std_in_chunks_equals_numpys():
    from sklstm._sequences import Sequences, feature_std

    rng = np.random.RandomState(0)
    X = [
        (rng.randn(rng.randint(1, 30), 4) * [1, 10, 100, 0] + 5).astype(np.float32)
        for _ in range(50)
    ]
    seqs = Sequences.from_list(X)
    steps = np.concatenate(X).astype(np.float64)
    np.testing.assert_allclose(feature_std(seqs, chunk_values=7), steps.std(axis=0), rtol=1e-10)
    firsts = np.array([x[0, 3:] for x in X], dtype=np.float64)
    expected = np.concatenate([steps[:, :3].std(axis=0), firsts.std(axis=0)])
    np.testing.assert_allclose(feature_std(seqs, 1, chunk_values=5), expected, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_with_early_stopping_monitors_the_training_loss():
    # partial_fit holds nothing out (as MLPClassifier's): it used to fail looking
    # for a validation score.
    X, _ = identical_sequences(n=20, steps=5)
    y = np.arange(20) % 2
    clf = LSTMClassifier(hidden_size=4, early_stopping=True, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    assert clf.n_iter_ == 2 and clf.validation_scores_ is None
    # A fit afterwards validates, its monitor started afresh on the new quantity.
    clf.set_params(warm_start=True, max_iter=3).fit(X, y)
    assert len(clf.validation_scores_) == 3
    assert dict(clf.net_.callbacks_)["monitor"].monitor == "valid_score"
