"""The training budget and schedule of the defaults, and models from before they existed."""

import pickle

import numpy as np
import pytest
from _model_files import rewrite_without
from skorch.callbacks import Callback, LRScheduler

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._base import AUTO_UPDATES, auto_batch_size, auto_epochs
from sklstm._training import one_cycle_rate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class RecordRates(Callback):
    """The learning rate of every training update, as the optimizer takes it."""

    def initialize(self):
        self.rates = []
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.rates.append(net.optimizer_.param_groups[0]["lr"])


def _problem(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(3, 12), 2).astype(np.float32) for _ in range(n)]
    return X, np.array([int(x[:, 0].sum() > 0) for x in X])


def test_one_cycle_rate_warms_up_to_the_peak_then_anneals_to_almost_zero():
    assert one_cycle_rate(0.0, 1.0) == pytest.approx(1 / 25)
    assert one_cycle_rate(0.15, 1.0) == pytest.approx((1 / 25 + 1) / 2)
    assert one_cycle_rate(0.3, 1.0) == pytest.approx(1.0)
    assert one_cycle_rate(0.65, 1.0) == pytest.approx((1 + 1 / 25e4) / 2)
    assert one_cycle_rate(1.0, 1.0) == pytest.approx(1 / 25e4)


@pytest.mark.parametrize(
    "n_train, batch, epochs", [(20, 16, 500), (40, 16, 500), (104, 16, 215), (2700, 64, 35)]
)
def test_auto_budget_gives_small_sets_many_epochs_of_small_batches(n_train, batch, epochs):
    assert auto_batch_size(n_train) == batch
    per_epoch = -(-n_train // batch)
    assert auto_epochs(per_epoch) == epochs
    assert epochs * per_epoch >= min(AUTO_UPDATES, 500 * per_epoch)


def test_default_fit_runs_the_planned_cycle_update_by_update():
    X, y = _problem()
    record = RecordRates()
    clf = LSTMClassifier(hidden_size=4, max_iter=6, callbacks=[record], random_state=0)
    clf.fit(X, y)  # no ConvergenceWarning: the schedule ends where it was planned
    per_epoch = -(-len(X) // auto_batch_size(len(X)))
    assert clf.n_iter_ == 6 and len(record.rates) == 6 * per_epoch
    expected = [one_cycle_rate(k / (6 * per_epoch), 1e-3) for k in range(6 * per_epoch)]
    np.testing.assert_allclose(record.rates, expected)


def test_max_iter_auto_plans_the_documented_number_of_epochs():
    X, y = _problem(n=20)
    clf = LSTMClassifier(hidden_size=2, learning_rate_init=0.05, random_state=0)
    clf.set_params(max_iter="auto", tol=10.0, n_iter_no_change=1)  # not used by the cycle
    clf.fit(X, y)
    assert clf.n_iter_ == auto_epochs(-(-20 // auto_batch_size(20)))


def test_constant_rate_partial_fit_and_user_schedulers_are_left_alone():
    X, y = _problem()
    record = RecordRates()
    clf = LSTMClassifier(
        hidden_size=4, max_iter=3, learning_rate="constant", callbacks=[record], random_state=0
    ).fit(X, y)
    assert set(record.rates) == {1e-3}
    clf.set_params(learning_rate="one_cycle", learning_rate_init=0.01, warm_start=True)
    record.rates.clear()
    clf.fit(X, y)  # the new setting takes effect when training continues
    assert record.rates[0] == pytest.approx(0.01 / 25) and max(record.rates) <= 0.01
    record.rates.clear()
    clf.partial_fit(X, y)
    assert set(record.rates) == {0.01}
    step = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    user = LSTMClassifier(hidden_size=4, max_iter=3, callbacks=[step], random_state=0)
    assert user.fit(X, y).net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3 / 8)


def test_model_files_from_before_the_front_end_load_as_they_were_trained(tmp_path):
    X, y = _problem()
    old = LSTMRegressor(
        hidden_size=4, max_iter=3, frontend=None, learning_rate="constant", random_state=0
    ).fit(X, y.astype(float))
    path = tmp_path / "old.sklstm"
    sklstm.save(old, path)
    rewrite_without(
        path,
        {
            "frontend",
            "frontend_channels",
            "learning_rate",
            "input_noise",
            "frontend_",
            "frontend_stride_",
            "feature_scale_",
        },
    )
    loaded = sklstm.load(path)
    assert loaded.get_params()["frontend"] is None
    assert loaded.get_params()["learning_rate"] == "constant"
    assert loaded.get_params()["input_noise"] == 0.0
    np.testing.assert_array_equal(loaded.predict(X), old.predict(X))


def test_pickles_from_before_the_front_end_still_predict():
    X, y = _problem()
    clf = LSTMClassifier(hidden_size=4, max_iter=2, frontend=None, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    old_names = ("frontend", "frontend_channels", "learning_rate", "input_noise")
    for name in (*old_names, "frontend_", "frontend_stride_"):
        del clf.__dict__[name]
    del clf.__dict__["feature_scale_"]
    del clf.module_.__dict__["frontend"]  # as a 0.1 network was pickled
    clf.net_.callbacks_ = [c for c in clf.net_.callbacks_ if c[0] != "input_noise"]
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.get_params()["frontend"] is None
    assert restored.get_params()["learning_rate"] == "constant"
    assert restored.get_params()["input_noise"] == 0.0
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    restored.set_params(warm_start=True, input_noise=0.1).fit(X, y)
    assert restored.n_iter_ == 4  # its net gained the noise it lacked:
    noise = dict(restored.net_.callbacks_)["input_noise"]
    np.testing.assert_allclose(noise.std, 0.1 * restored.feature_scale_)
