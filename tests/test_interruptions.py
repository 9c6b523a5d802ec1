"""Ctrl-C at every place of a fit it can land: the fit ends as of its last completed epoch.

Each test delivers a real SIGINT to this process at a chosen step (a callback
or a patched function calls ``os.kill`` there), so the interruption takes the
path a person's Ctrl-C takes, at a known moment, without timers.
"""

import signal

import numpy as np
import pytest
from _ctrl_c import CtrlCAt, ctrl_c, ctrl_c_at_write
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._training import SequenceNet
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint

# Short fits, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# A constant rate: the first k epochs of a longer fit are exactly a k-epoch fit.
PARAMS = dict(
    hidden_size=8,
    max_iter=4,
    batch_size=16,
    learning_rate="constant",
    learning_rate_init=0.02,
    n_iter_no_change=50,
    random_state=0,
)


def problem(n=64, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(4, 16), 2).astype(np.float32) for _ in range(n)]
    return X, np.array([int(x[:, 0].sum() > 0) for x in X])


def reference(epochs, **params):
    X, y = problem()
    return LSTMClassifier(**{**PARAMS, **params, "max_iter": epochs}).fit(X, y)


def assert_same_model(clf, ref):
    X, _ = problem()
    assert clf.n_iter_ == ref.n_iter_
    assert clf.loss_curve_ == ref.loss_curve_
    assert len([e for e in clf.net_.history if "train_loss" in e]) == ref.n_iter_
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))
    # The optimizer is back as of that epoch too (Adam's step counts and moments).
    ours, theirs = clf.net_.optimizer_.state_dict(), ref.net_.optimizer_.state_dict()
    assert ours["state"].keys() == theirs["state"].keys()
    for key, state in ours["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(value.numpy(), theirs["state"][key][name].numpy())
    # And the fitted model keeps no spare copy of its weights.
    assert dict(clf.net_.callbacks_)["last_completed_epoch"].snapshot_ is None


@pytest.mark.parametrize(
    "hook, epoch, completed",
    [
        ("epoch_begin", 3, 2),  # between epochs
        ("batch_begin", 3, 2),  # inside an epoch
        ("epoch_end", 3, 2),  # in a callback, before every callback saw the epoch end
        ("train_end", 4, 4),  # after the last epoch, while the callbacks end training
    ],
)
def test_ctrl_c_keeps_the_last_completed_epoch(hook, epoch, completed):
    X, y = problem()
    clf = LSTMClassifier(**PARAMS, callbacks=[CtrlCAt(hook, epoch)])
    before = signal.getsignal(signal.SIGINT)
    with pytest.warns(UserWarning, match=f"interrupted after {completed} of 4 epochs"):
        clf.fit(X, y)
    assert clf.interrupted_ is True
    assert signal.getsignal(signal.SIGINT) is before
    assert_same_model(clf, reference(completed))


def test_ctrl_c_inside_a_training_step(monkeypatch):
    """Between the forward pass and the backward pass of the 5th batch (epoch 2)."""
    calls = []
    original = SequenceNet.get_loss

    def get_loss(self, *args, training=False, **kwargs):
        loss = original(self, *args, training=training, **kwargs)
        if training:
            calls.append(1)
            if len(calls) == 5:
                ctrl_c()
        return loss

    monkeypatch.setattr(SequenceNet, "get_loss", get_loss)
    X, y = problem()
    with pytest.warns(UserWarning, match="interrupted after 1 of 4 epochs"):
        clf = LSTMClassifier(**PARAMS).fit(X, y)
    monkeypatch.undo()
    assert_same_model(clf, reference(1))


def test_ctrl_c_before_the_first_epoch_leaves_no_model():
    X, y = problem()
    for hook, epoch in [("train_begin", 0), ("batch_begin", 1)]:
        clf = LSTMClassifier(**PARAMS, callbacks=[CtrlCAt(hook, epoch)])
        with pytest.raises(KeyboardInterrupt, match="before the first epoch completed"):
            clf.fit(X, y)
        with pytest.raises(NotFittedError):
            clf.predict(X)
        assert not hasattr(clf, "interrupted_") and not hasattr(clf, "frontend_")


def test_ctrl_c_while_fit_validates_its_input_leaves_the_estimator_as_it_was(monkeypatch):
    from sklstm import _base

    X, y = problem()
    clf = LSTMClassifier(**PARAMS).fit(X, y).set_params(warm_start=True)
    proba, state = clf.predict_proba(X), dict(vars(clf))
    original = _base.validate_sequences

    def validate_sequences(*args, **kwargs):
        ctrl_c()
        return original(*args, **kwargs)

    monkeypatch.setattr(_base, "validate_sequences", validate_sequences)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    monkeypatch.undo()
    assert vars(clf).keys() == state.keys()
    assert all(vars(clf)[name] is value for name, value in state.items())
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_ctrl_c_in_partial_fit_keeps_the_model_before_the_call():
    X, y = problem()
    # Epoch 5 is partial_fit's: fit's 4 epochs come first.
    clf = LSTMClassifier(**PARAMS, callbacks=[CtrlCAt("batch_begin", 5)]).fit(X, y)
    proba = clf.predict_proba(X)
    with pytest.warns(UserWarning, match="interrupted after 0 of 1 epochs"):
        clf.partial_fit(X, y)
    assert clf.interrupted_ and clf.n_iter_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_ctrl_c_with_early_stopping_keeps_the_best_epoch_so_far():
    X, y = problem()
    params = dict(early_stopping=True, validation_fraction=0.25)
    clf = LSTMClassifier(**PARAMS, **params, callbacks=[CtrlCAt("batch_begin", 3)])
    with pytest.warns(UserWarning, match="weights of the best validation epoch"):
        clf.fit(X, y)
    ref = reference(2, **params)
    assert clf.validation_scores_ == ref.validation_scores_
    assert_same_model(clf, ref)


def test_ctrl_c_during_a_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    writes = ctrl_c_at_write(monkeypatch, ".ckpt", nth=3)
    path = tmp_path / "run.ckpt"
    X, y = problem()
    clf = LSTMClassifier(**PARAMS, callbacks=[ResumableCheckpoint(path)])
    with pytest.warns(UserWarning, match="interrupted after 2 of 4 epochs"):
        clf.fit(X, y)
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]  # no temporary file left
    saved = load_checkpoint(path)
    assert saved.n_iter_ == clf.n_iter_ == 2
    np.testing.assert_array_equal(saved.predict_proba(X), clf.predict_proba(X))
    # The run resumes from there to what an uninterrupted run gives.
    writes["nth"] = None
    assert_same_model(saved.fit(X, y), reference(4))


def test_a_callback_that_stops_training_is_not_an_interruption():
    """skorch's callbacks (EarlyStopping...) end training by raising KeyboardInterrupt."""

    class Stop(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    X, y = problem()
    clf = LSTMRegressor(**PARAMS, callbacks=[Stop()]).fit(X, y.astype(float))
    assert clf.interrupted_ is False and clf.n_iter_ == 2


def test_an_applications_own_ctrl_c_handler_stays_in_charge():
    class Stopped(Exception):
        pass

    def handler(signum, frame):
        raise Stopped

    previous = signal.signal(signal.SIGINT, handler)
    try:
        X, y = problem()
        clf = LSTMClassifier(**PARAMS, callbacks=[CtrlCAt("batch_begin", 2)])
        with pytest.raises(Stopped):
            clf.fit(X, y)
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_uninterrupted_fit_says_so():
    X, y = problem()
    clf = LSTMClassifier(**PARAMS).fit(X, y)
    assert clf.interrupted_ is False
