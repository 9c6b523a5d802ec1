"""GaussianNoise: noise on the valid steps of training batches only, reproducible by seed."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, SequenceScaler
from sklstm.callbacks import GaussianNoise, PaddedBatch


class FakeNet:
    """What GaussianNoise reads of a net: the history, one row per epoch begun."""

    def __init__(self, epochs):
        self.history = [{}] * epochs


def zero_batch(lengths, n_features=4):
    lengths = torch.tensor(lengths)
    x = torch.zeros(int(lengths.max()), len(lengths), n_features)
    return PaddedBatch(x, lengths), None


def noisy(callback, epoch, lengths=(2000, 1500, 7, 1), training=True):
    callback.on_epoch_begin(FakeNet(epoch))
    batch = zero_batch(list(lengths))
    callback.on_batch_begin(None, batch=batch, training=training)
    return batch[0].x


def test_noise_has_its_std_on_valid_steps_and_leaves_padding_alone():
    callback = GaussianNoise(0.1, random_state=0)
    callback.on_train_begin(None)
    x = noisy(callback, 1)
    lengths = (2000, 1500, 7, 1)
    for b, length in enumerate(lengths):
        assert torch.count_nonzero(x[length:, b]) == 0  # padding stays zero
        assert torch.count_nonzero(x[:length, b]) == length * 4
    valid = torch.cat([x[:length, b].flatten() for b, length in enumerate(lengths)])
    assert float(valid.std()) == pytest.approx(0.1, rel=0.02)  # 14,032 draws
    assert abs(float(valid.mean())) < 0.003
    assert torch.count_nonzero(noisy(callback, 1, training=False)) == 0
    silent = GaussianNoise(0.0, random_state=0)
    silent.on_train_begin(None)
    assert torch.count_nonzero(noisy(silent, 1)) == 0


def test_noise_depends_on_seed_and_epoch_only():
    first = GaussianNoise(random_state=3)
    first.on_train_begin(None)
    by_epoch = [noisy(first, epoch, lengths=(30, 20)) for epoch in (1, 2, 3)]
    assert not torch.equal(by_epoch[0], by_epoch[1])  # afresh every epoch
    # A fit resumed at epoch 3 (a new callback, as after a restart) draws epoch 3's noise.
    resumed = GaussianNoise(random_state=3)
    resumed.on_train_begin(None)
    assert torch.equal(noisy(resumed, 3, lengths=(30, 20)), by_epoch[2])
    unseeded = GaussianNoise()
    unseeded.on_train_begin(None)
    assert not torch.equal(noisy(unseeded, 1, lengths=(30, 20)), by_epoch[0])


def test_an_array_gives_each_feature_its_own_std():
    callback = GaussianNoise(np.array([0.0, 0.1, 1.0, 3.0]), random_state=0)
    callback.on_train_begin(None)
    x = noisy(callback, 1, lengths=(3000, 2000))
    valid = torch.cat([x[:3000, 0], x[:2000, 1]])  # [shape=(5000, 4)]
    assert torch.count_nonzero(valid[:, 0]) == 0
    np.testing.assert_allclose(valid[:, 1:].std(dim=0).numpy(), [0.1, 1.0, 3.0], rtol=0.04)
    assert torch.count_nonzero(x[2000:, 1]) == 0  # padding stays zero


def test_an_array_of_the_wrong_length_is_refused_at_the_first_batch():
    callback = GaussianNoise([0.1, 0.2], random_state=0)
    callback.on_train_begin(None)
    with pytest.raises(ValueError, match="std has 2 values, one per feature, but the batches"):
        noisy(callback, 1)


@pytest.mark.parametrize(
    "std",
    [-0.1, float("nan"), float("inf"), "0.1", True, [0.1, -0.1], [[0.1]], [], [True, 0.1]],
)
def test_bad_std_is_refused_when_training_begins(std):
    with pytest.raises(ValueError, match="GaussianNoise: std must be a finite number >= 0"):
        GaussianNoise(std).on_train_begin(None)


def ragged_problem(seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(8, 30), 3).astype(np.float32) for _ in range(48)]
    return X, rng


def test_noise_changes_training_only_and_zero_noise_changes_nothing():
    X, _ = ragged_problem()
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    settings = dict(hidden_size=8, max_iter=5, input_noise=0.0, random_state=0)
    plain = LSTMClassifier(**settings).fit(X, y)
    silent = LSTMClassifier(**settings, callbacks=[GaussianNoise(0.0, random_state=0)]).fit(X, y)
    np.testing.assert_array_equal(silent.predict_proba(X), plain.predict_proba(X))
    model = LSTMClassifier(**settings, callbacks=[GaussianNoise(0.3, random_state=0)])
    jittered = clone(model).fit(X, y)
    assert jittered.n_iter_ == plain.n_iter_ == 5
    assert not np.allclose(jittered.predict_proba(X), plain.predict_proba(X))
    # Predictions are never jittered, and the same seed trains the same network.
    np.testing.assert_array_equal(jittered.predict_proba(X), jittered.predict_proba(X))
    again = clone(model).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), jittered.predict_proba(X))


def test_noise_in_a_regression_pipeline():
    X, rng = ragged_problem(1)
    y = np.array([x[:, 1].sum() for x in X]) + 0.1 * rng.randn(len(X))
    model = make_pipeline(
        SequenceScaler(),
        LSTMRegressor(
            hidden_size=8, max_iter=5, input_noise=0, random_state=0, callbacks=[GaussianNoise()]
        ),
    ).fit(X, y)
    assert model.predict(X).shape == (len(X),)
    assert np.isfinite(model.predict(X)).all()
