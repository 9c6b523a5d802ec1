"""scikit-learn's estimator checks over every estimator and transformer of sklstm.

Each estimator is checked with small, fast settings; a few checks get their own
settings the way scikit-learn configures MLPClassifier (see ``PER_CHECK``).
"""

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklstm import (
    FromChannelsFirst,
    LSTMClassifier,
    LSTMRegressor,
    PadTruncate,
    RunningMeanNormalizer,
    SequenceScaler,
)

FAST = dict(hidden_size=8, random_state=0, learning_rate_init=0.02, max_iter=30)

ESTIMATORS = [
    # Both networks: the plain recurrent one, and the convolutional front end
    # (which "auto" picks for most of the checks' data).
    LSTMClassifier(frontend=None, **FAST),
    # A recurrent layer alone needs more epochs for check_regressors_train's R² > 0.5.
    LSTMRegressor(frontend=None, **{**FAST, "max_iter": 60}),
    LSTMClassifier(frontend="conv", **FAST),
    LSTMRegressor(frontend="conv", **FAST),
    SequenceScaler(),
    RunningMeanNormalizer(window=3),
    FromChannelsFirst(),
    PadTruncate(),
]

# Settings for individual checks, as scikit-learn gives MLPClassifier its own.
PER_CHECK = {
    # Weighted and repeated samples give the same objective; only full-batch
    # L-BFGS, with no shuffling and no mini-batch noise, reaches the same weights.
    "check_sample_weight_equivalence_on_dense_data": dict(solver="lbfgs", max_iter=30),
    # The check sets max_iter=1000 and n_iter_no_change=20 as it does for
    # MLPClassifier, whose constant step size stops once the loss settles; under
    # the one-cycle schedule all 1,000 epochs would run (90 s with the front end).
    "check_class_weight_classifiers": dict(learning_rate="constant"),
}


def expected_failed_checks(estimator):
    return {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in PER_CHECK and "max_iter" in estimator.get_params():
        # The parametrized instance is shared by all checks: configure a copy.
        estimator = clone(estimator).set_params(**PER_CHECK[name])
    check(estimator)
