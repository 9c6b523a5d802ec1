"""Checkpoints every epoch, and resumed fits that end exactly like uninterrupted ones."""

import numpy as np
import pytest
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint
from sklstm.io import ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    """The process 'dies' when the given epoch starts."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise _Crash


def _data():
    rng = np.random.RandomState(0)
    X = [rng.randn(rng.randint(3, 20), 2) for _ in range(60)]
    return X, np.array([int(x[:, 0].sum() > 0) for x in X])


@pytest.mark.parametrize("early_stopping", [False, True])
def test_resumed_fit_equals_the_uninterrupted_fit(tmp_path, early_stopping):
    X, y = _data()
    params = dict(
        hidden_size=8,
        num_layers=2,
        dropout=0.3,  # dropout masks must be replayed too
        max_iter=7,
        early_stopping=early_stopping,
        n_iter_no_change=20,
        random_state=0,
    )
    uninterrupted = LSTMClassifier(**params).fit(X, y)
    path = tmp_path / "run.ckpt"
    with pytest.raises(_Crash):
        LSTMClassifier(**params, callbacks=[ResumableCheckpoint(path), _CrashAt(5)]).fit(X, y)
    resumed = load_checkpoint(path)
    assert resumed.n_iter_ == 4 and len(resumed.loss_curve_) == 4
    resumed.fit(X, y)
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
    assert resumed.loss_curve_ == uninterrupted.loss_curve_
    assert resumed.n_iter_ == uninterrupted.n_iter_ == 7
    assert resumed.validation_scores_ == uninterrupted.validation_scores_
    # The resumed fit went on checkpointing: the file now holds all seven epochs.
    assert load_checkpoint(path).n_iter_ == 7


def test_resuming_on_other_data_is_refused(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    LSTMRegressor(hidden_size=4, max_iter=2, callbacks=[ResumableCheckpoint(path)]).fit(X, y)
    resumed = load_checkpoint(path)
    with pytest.raises(ValueError, match="written while training on other data"):
        resumed.fit(X[:-1], y[:-1])


def test_checkpoint_is_a_model_file_and_models_are_not_checkpoints(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    clf = LSTMClassifier(hidden_size=4, max_iter=2, callbacks=[ResumableCheckpoint(path)])
    clf.fit(X, y)
    content = load(path)
    np.testing.assert_array_equal(content["estimator"].predict_proba(X), clf.predict_proba(X))
    clf.set_params(callbacks=None)
    save(clf, tmp_path / "model.sklstm")
    with pytest.raises(ModelFileError, match="not an sklstm checkpoint"):
        load_checkpoint(tmp_path / "model.sklstm")
