"""Training-history plot: the drawn data are the estimator's curves."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklstm import LSTMRegressor, SequenceScaler
from sklstm.plotting import plot_training_history

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_history_plot_draws_training_and_validation_curves():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 6, 2)
    y = X[:, -1, 0]
    model = make_pipeline(
        SequenceScaler(),
        LSTMRegressor(hidden_size=4, max_iter=6, early_stopping=True, random_state=0),
    ).fit(X, y)
    reg = model[-1]
    ax = plot_training_history(model)
    train, valid = ax.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), reg.loss_curve_)
    np.testing.assert_allclose(valid.get_ydata(), reg.validation_loss_curve_)
    score = ax.right_ax.get_lines()[0]
    np.testing.assert_allclose(score.get_ydata(), reg.validation_scores_)
    assert len(reg.validation_loss_curve_) == reg.n_iter_


def test_history_plot_without_validation_and_before_fit():
    X, y = np.random.RandomState(1).randn(30, 4), np.arange(30.0)
    reg = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    ax = plot_training_history(reg)
    assert [line.get_label() for line in ax.get_lines()] == ["training loss"]
    assert reg.validation_loss_curve_ is None
    with pytest.raises(NotFittedError):
        plot_training_history(LSTMRegressor())
