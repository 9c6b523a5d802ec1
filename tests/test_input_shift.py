"""input_shift: training series delayed by random steps, so that a strided front end's
grid does not fall on each training series at one place only."""

import pickle
import types

import numpy as np
import pytest
import torch
from _model_files import rewrite_without
from skorch.callbacks import Callback

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor, LSTMTagger
from sklstm._training import InputShift

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class BatchSpy(Callback):
    """Keep a copy of every batch's inputs and lengths as the network reads them."""

    def __init__(self):
        self.training, self.validation = [], []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        copy = (batch[0].x.numpy().copy(), batch[0].lengths.numpy().copy())
        (self.training if training else self.validation).append(copy)


def _shifted_batch(max_shift, sequences, *, training=True, epoch=0):
    lengths = torch.tensor([len(s) for s in sequences])
    x = torch.zeros(int(lengths.max()), len(sequences), sequences[0].shape[1])
    for b, s in enumerate(sequences):
        x[: len(s), b] = torch.as_tensor(s)
    shift = InputShift()
    shift.start(max_shift, seed=0, next_epoch=epoch)
    shift.on_epoch_begin(types.SimpleNamespace())
    batch = (types.SimpleNamespace(x=x, lengths=lengths), None)
    shift.on_batch_begin(None, batch=batch, training=training)
    return batch[0].x.numpy(), batch[0].lengths.numpy()


def _delay(of):
    """How many steps the values of a strictly increasing sequence were delayed."""
    return int(np.argmax(of[:, 0] != of[0, 0]) - 1)


def test_each_series_is_preceded_by_copies_of_its_first_step_and_kept_whole():
    rng = np.random.RandomState(0)
    lengths = [30, 7, 1, 18] * 50
    sequences = [np.cumsum(rng.rand(n, 2) + 0.1, axis=0).astype(np.float32) for n in lengths]
    x, delayed = _shifted_batch(5, sequences)
    delays = delayed - np.array(lengths)
    assert x.shape[0] == delayed.max() == 30 + 5
    for b, (s, delay) in enumerate(zip(sequences, delays)):
        assert 0 <= delay <= 5
        expected = np.concatenate([np.repeat(s[:1], delay, axis=0), s])
        np.testing.assert_array_equal(x[: delayed[b], b], expected)  # every step, the end too
        assert np.all(x[delayed[b] :, b] == 0)  # padding stays zero
    assert set(delays) == set(range(6))  # every delay from 0 to input_shift is drawn


def test_validation_batches_and_zero_shift_are_left_alone():
    s = np.arange(20, dtype=np.float32).reshape(10, 2)
    for x, lengths in (_shifted_batch(4, [s], training=False), _shifted_batch(0, [s])):
        np.testing.assert_array_equal(x[:, 0], s)
        assert lengths.tolist() == [10]
    # The delays depend on the fit's seed and the epoch, nothing else.
    many = [s] * 64
    np.testing.assert_array_equal(_shifted_batch(4, many)[0], _shifted_batch(4, many)[0])
    assert not np.array_equal(_shifted_batch(4, many)[1], _shifted_batch(4, many, epoch=1)[1])


def _long_series(n=16, steps=600, seed=0):
    rng = np.random.RandomState(seed)
    X = np.cumsum(rng.rand(n, steps, 1) + 0.01, axis=1).astype(np.float32)
    return X, np.arange(n) % 2


@pytest.mark.parametrize("estimator", [LSTMClassifier, LSTMRegressor])
def test_auto_delays_by_up_to_the_stride_from_stride_8_on(estimator):
    X, y = _long_series()
    spy = BatchSpy()
    model = estimator(hidden_size=4, frontend_channels=4, max_iter=3, random_state=0)
    model.set_params(input_noise=0.0, early_stopping=True, callbacks=[spy]).fit(X, y)
    assert model.input_shift == "auto"
    assert model.frontend_stride_ == 10 and model._shift_steps() == 9
    delays = np.concatenate([lengths - 600 for _, lengths in spy.training])
    assert delays.min() >= 0 and delays.max() <= 9 and len(set(delays)) >= 5
    for x, lengths in spy.training:
        assert all(_delay(x[:, b]) == d for b, d in enumerate(lengths - 600))
    for x, lengths in spy.validation:  # held-out series are read as they are
        assert all(_delay(x[:, b]) == 0 for b in range(x.shape[1]))
        assert np.all(lengths == 600)


def test_auto_is_off_below_stride_8_without_a_front_end_and_for_lbfgs():
    X, y = _long_series(steps=400)  # stride 7
    clf = LSTMClassifier(hidden_size=4, frontend_channels=4, max_iter=1, random_state=0)
    assert clf.fit(X, y).frontend_stride_ == 7 and clf._shift_steps() == 0
    # Nothing is drawn from the global generators: the fit is input_shift=0's, bit for bit.
    off = LSTMClassifier(hidden_size=4, frontend_channels=4, max_iter=1, input_shift=0)
    off.set_params(random_state=0).fit(X, y)
    np.testing.assert_array_equal(off.predict_proba(X), clf.predict_proba(X))
    assert clf.set_params(input_shift=3)._shift_steps() == 3
    clf = LSTMClassifier(hidden_size=4, frontend=None, max_iter=1, random_state=0).fit(X, y)
    assert clf._shift_steps() == 0
    assert clf.set_params(input_shift=3)._shift_steps() == 3  # an integer is obeyed
    spy = BatchSpy()
    LSTMRegressor(
        hidden_size=4, solver="lbfgs", max_iter=1, input_shift=5, callbacks=[spy], random_state=0
    ).fit(X[:, :40], y.astype(float))
    assert spy.training and all(np.all(lengths == 40) for _, lengths in spy.training)


def test_the_tagger_never_shifts_its_labelled_steps():
    assert "input_shift" not in LSTMTagger().get_params()
    X, _ = _long_series(n=8, steps=40)
    y = [np.arange(40) % 2 for _ in X]
    spy = BatchSpy()
    tagger = LSTMTagger(hidden_size=4, max_iter=1, callbacks=[spy], random_state=0).fit(X, y)
    assert tagger._shift_steps() == 0
    assert spy.training and all(np.all(lengths == 40) for _, lengths in spy.training)


def test_shifts_change_training_reproducibly_and_never_prediction():
    X, y = _long_series()
    X = (X - X.mean()) / X.std()
    settings = dict(hidden_size=4, frontend_channels=4, max_iter=3, random_state=0)
    shifted = LSTMClassifier(**settings).fit(X, y).predict_proba(X)
    again = LSTMClassifier(**settings).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), shifted)
    plain = LSTMClassifier(**settings, input_shift=0).fit(X, y).predict_proba(X)
    assert not np.allclose(plain, shifted)
    # One series alone or batched: predictions read it as it is.
    np.testing.assert_allclose(again.predict_proba(X[:1]), shifted[:1], atol=1e-6)


def test_models_saved_before_input_shift_existed_keep_training_without_it(tmp_path):
    X, y = _long_series(n=8)
    clf = LSTMClassifier(hidden_size=4, frontend_channels=4, max_iter=1, random_state=0)
    clf.fit(X, y)
    sklstm.save(clf, tmp_path / "old.sklstm")
    rewrite_without(tmp_path / "old.sklstm", {"input_shift"})
    loaded = sklstm.load(tmp_path / "old.sklstm")
    assert loaded.input_shift == 0 and loaded._shift_steps() == 0
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    del clf.__dict__["input_shift"]  # as such a model was pickled, its net without the callback
    clf.net_.callbacks_ = [c for c in clf.net_.callbacks_ if c[0] != "input_shift"]
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.input_shift == 0
    spy = BatchSpy()
    restored.set_params(warm_start=True, callbacks=[spy]).fit(X, y)
    assert spy.training and all(np.all(lengths == 600) for _, lengths in spy.training)
    # Its net gained the callback, and a shift set since is obeyed.
    assert dict(restored.net_.callbacks_)["input_shift"].max_shift == 0
    spy = BatchSpy()
    restored.set_params(input_shift=3, callbacks=[spy]).fit(X, y)
    assert max(int(lengths.max()) for _, lengths in spy.training) > 600


@pytest.mark.parametrize("module", ["sklstm.ecg._classifier", "sklstm.audio._spotter"])
def test_the_applications_networks_resume_checkpoints_written_before_input_shift(module):
    # A checkpoint without a parameter loads with its value of before; resuming
    # checks that the application's network has the same settings.
    import importlib

    network = importlib.import_module(module)._NETWORK
    params = LSTMClassifier(**network).get_params()
    for name, before in LSTMClassifier._PARAMS_BEFORE_0_2.items():
        assert params[name] == before, name


@pytest.mark.parametrize("bad", [-1, 2.5, "all", None])
def test_a_bad_input_shift_is_refused(bad):
    X, y = _long_series(n=4, steps=20)
    with pytest.raises(ValueError, match="input_shift"):
        LSTMClassifier(input_shift=bad).fit(X, y)


def test_a_resumed_warm_start_fit_draws_the_delays_of_the_uninterrupted_one(tmp_path):
    from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint

    class Crash(Exception):
        pass

    class CrashAt(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 4:  # the second epoch of the second fit
                raise Crash

    X, y = _long_series(n=12, steps=500)
    X = (X - X.mean()) / X.std()
    params = dict(hidden_size=4, frontend_channels=4, max_iter=2, input_noise=0.0)
    params.update(input_shift=7, random_state=0)
    uninterrupted = LSTMClassifier(**params).fit(X, y)
    uninterrupted.set_params(warm_start=True, max_iter=4).fit(X, y)
    path = tmp_path / "run.ckpt"
    first = LSTMClassifier(**params, callbacks=[ResumableCheckpoint(path), CrashAt()]).fit(X, y)
    with pytest.raises(Crash):
        first.set_params(warm_start=True, max_iter=4).fit(X, y)
    resumed = load_checkpoint(path)
    resumed.fit(X, y)
    assert resumed.n_iter_ == uninterrupted.n_iter_ == 6
    assert resumed.loss_curve_ == uninterrupted.loss_curve_
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
