"""Augmentation: exact perturbations, fit-only augmentation, SpecAugment on training batches."""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier
from sklstm.audio import (
    AugmentedClassifier,
    SpecAugment,
    WaveformAugmenter,
    add_noise,
    add_reverb,
    change_speed,
    change_tempo,
    colored_noise,
    shift_pitch,
    time_shift,
)
from sklstm.audio import _augment as augment_module


def tone(freq, n=8000, sr=8000):
    return np.sin(2 * np.pi * freq * np.arange(n) / sr).astype(np.float32)


def peak_hz(y, sr=8000):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.argmax(spectrum) * sr / len(y)


def snr_db(clean, noisy):
    return 10 * np.log10(np.mean(clean.astype(float) ** 2) / np.mean((noisy - clean) ** 2))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_add_noise_hits_the_snr(snr):
    y = tone(300)
    assert snr_db(y, add_noise(y, snr_db=snr, random_state=0)) == pytest.approx(snr, abs=1e-3)
    noise = np.random.RandomState(1).uniform(-1, 1, 3000)  # shorter: tiled
    noisy = add_noise(y, snr_db=snr, noise=noise, random_state=0)
    assert noisy.shape == y.shape and noisy.dtype == np.float32
    assert snr_db(y, noisy) == pytest.approx(snr, abs=1e-3)
    np.testing.assert_array_equal(noisy, add_noise(y, snr_db=snr, noise=noise, random_state=0))
    np.testing.assert_array_equal(add_noise(y, snr_db=snr, noise=np.zeros(10)), y)


def test_noise_can_be_set_against_the_speech_rather_than_the_padded_copy():
    y = tone(300)
    padded = np.concatenate([np.zeros(4000, np.float32), y, np.zeros(4000, np.float32)])
    power = float(np.mean(y.astype(float) ** 2))
    noisy = add_noise(padded, snr_db=10.0, random_state=0, signal_power=power)
    assert snr_db(y, noisy[4000:-4000]) == pytest.approx(10.0, abs=0.2)  # against the tone
    quieter = add_noise(padded, snr_db=10.0, random_state=0)  # against the padded copy
    assert snr_db(y, quieter[4000:-4000]) == pytest.approx(10.0 + 10 * np.log10(2), abs=0.2)
    with pytest.raises(ValueError, match="signal_power"):
        add_noise(y, snr_db=10.0, signal_power=-1.0)

    settings = dict(speed=None, shift=0.4, snr_db=(10.0, 10.0), noise_prob=1.0)
    copies = {
        of: WaveformAugmenter(**settings, snr_of=of).augment([y], random_state=0)[0]
        for of in ("copy", "clip")
    }
    # Same draws: the same shifts, the noise scaled differently.
    assert len(copies["copy"]) == len(copies["clip"]) > len(y)
    # The silence the shift put before the tone (drawn before the noise: the same).
    clean = WaveformAugmenter(**{**settings, "snr_db": None}).augment([y], random_state=0)[0]
    lead = int(np.flatnonzero(clean)[0])
    assert lead > 200
    noise_db = {of: 10 * np.log10(power / np.mean(c[:lead] ** 2)) for of, c in copies.items()}
    assert noise_db["clip"] == pytest.approx(10.0, abs=1.5)
    assert noise_db["copy"] > noise_db["clip"] + 1.0


def test_time_shift_pads_and_cuts():
    y = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(time_shift(y, before=2, after=1), [0, 0, 1, 2, 3, 4, 5, 0])
    np.testing.assert_array_equal(time_shift(y, before=-2, after=1), [3, 4, 5, 0])
    np.testing.assert_array_equal(time_shift(y, before=1, after=-3), [0, 1, 2])
    np.testing.assert_array_equal(time_shift(y, before=-3, after=-3), [0])


@pytest.mark.parametrize("rate", [0.8, 1.0, 1.2])
def test_change_speed_scales_duration_and_pitch(rate):
    fast = change_speed(tone(440), rate=rate)
    assert len(fast) == int(np.ceil(8000 / rate))
    assert peak_hz(fast) == pytest.approx(440 * rate, abs=8000 / len(fast))


@pytest.mark.parametrize("rate", [0.7, 1.0, 1.4])
def test_change_tempo_keeps_pitch(rate):
    stretched = change_tempo(tone(440), rate=rate)
    assert len(stretched) == round(8000 / rate)
    assert peak_hz(stretched) == pytest.approx(440, abs=8000 / len(stretched))
    assert np.sqrt(np.mean(stretched[1000:-1000] ** 2)) == pytest.approx(np.sqrt(0.5), rel=0.15)


@pytest.mark.parametrize("steps", [-4.0, 0.0, 3.0])
def test_shift_pitch_keeps_duration(steps):
    shifted = shift_pitch(tone(400), n_steps=steps)
    assert shifted.shape == (8000,)
    assert peak_hz(shifted) == pytest.approx(400 * 2 ** (steps / 12), abs=3)
    # The level is kept (phase vocoder with normalized overlap-add).
    assert np.sqrt(np.mean(shifted[1000:-1000] ** 2)) == pytest.approx(np.sqrt(0.5), rel=0.15)


def test_waveform_augmenter():
    clips = [tone(300, 3000), tone(500, 5000)]
    identity = WaveformAugmenter(speed=None, shift=0.0, snr_db=None)
    for a, b in zip(identity.augment(clips, random_state=0), clips):
        np.testing.assert_array_equal(a, b)

    augmenter = WaveformAugmenter(
        speed=(0.95, 1.05), tempo=(0.9, 1.1), pitch=(-1, 1), shift=0.05, snr_db=(5, 5)
    )
    first = augmenter.augment(clips, random_state=3)
    again = augmenter.augment(clips, random_state=3)
    for a, b, clip in zip(first, again, clips):
        np.testing.assert_array_equal(a, b)
        # Speed and tempo within +-5 and 10 %, then up to 400 samples of silence at each end.
        assert len(clip) / 1.05 / 1.1 - 1 <= len(a) <= len(clip) / 0.95 / 0.9 + 801
    with pytest.raises(ValueError, match="low end"):
        WaveformAugmenter(speed=(1.2, 0.8)).augment(clips)
    with pytest.raises(ValueError, match="noise_prob"):
        WaveformAugmenter(noise_prob=2.0).augment(clips)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Remembers what it was fitted on and predicts each clip's length parity."""

    def fit(self, X, y):
        self.fit_lengths_ = [len(x) for x in X]
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.array([len(x) % 2 for x in X])


def test_augmented_classifier_augments_fit_only():
    rng = np.random.RandomState(0)
    X = [rng.randn(n).astype(np.float32) for n in (100, 200, 301, 400, 501, 600)]
    y = np.array([0, 0, 1, 0, 1, 0])
    model = AugmentedClassifier(
        RecordingClassifier(), augmenter=WaveformAugmenter(), n_copies=3, random_state=0
    )
    model.fit(X, y)
    assert model.n_train_ == 24 and len(model.estimator_.fit_lengths_) == 24
    assert model.estimator_.fit_lengths_[:6] == [100, 200, 301, 400, 501, 600]
    assert model.estimator_.fit_lengths_[6:] != model.estimator_.fit_lengths_[:6] * 3
    np.testing.assert_array_equal(model.predict(X), y)  # clips reach predict untouched
    assert model.score(X, y) == 1.0
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert not hasattr(model, "predict_proba")
    assert clone(model).get_params()["n_copies"] == 3

    # In a search, each training fold is augmented, each validation fold is not.
    search = GridSearchCV(model, {"n_copies": [0, 1]}, cv=2).fit(X, y)
    assert search.best_estimator_.n_train_ == 6 * (1 + search.best_params_["n_copies"])


def fake_batch(lengths, T=20, F=10):
    class Batch:
        pass

    batch = Batch()
    batch.x = torch.ones(T, len(lengths), F)
    batch.lengths = torch.tensor(lengths)
    return (batch, None)


class FakeNet:
    """What SpecAugment reads of a net: the history, one row per epoch begun."""

    def __init__(self, epochs):
        self.history = [{}] * epochs


def test_spec_augment_masks_training_batches_only():
    callback = SpecAugment(freq_masks=2, freq_width=3, time_masks=2, time_width=4, random_state=0)
    callback.on_train_begin(None)
    callback.on_epoch_begin(FakeNet(1))
    batch = fake_batch([20, 10, 5, 1])
    callback.on_batch_begin(None, batch=batch, training=True)
    x = batch[0].x
    assert (x == 0).any()
    for b, length in enumerate([20, 10, 5, 1]):
        masked_steps = (x[:, b] == 0).all(dim=1)
        # Time masks stay within the sequence and cover at most 2 * min(4, T / 5) steps.
        assert int(masked_steps[length:].sum()) == 0
        assert int(masked_steps[:length].sum()) <= 2 * min(4, length // 5)
        masked_features = (x[:length, b] == 0).all(dim=0)
        assert int(masked_features.sum()) <= 6

    untouched = fake_batch([20, 10])
    callback.on_batch_begin(None, batch=untouched, training=False)
    assert (untouched[0].x == 1).all()


def test_spec_augment_in_lstm_training():
    rng = np.random.RandomState(0)
    X = [rng.randn(rng.randint(8, 20), 6).astype(np.float32) for _ in range(40)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    clf = LSTMClassifier(
        hidden_size=8, max_iter=5, random_state=0, callbacks=[SpecAugment(random_state=0)]
    )
    clf.fit(X, y)
    plain = LSTMClassifier(hidden_size=8, max_iter=5, random_state=0).fit(X, y)
    assert clf.n_iter_ == plain.n_iter_ == 5  # the one-cycle budget runs every epoch
    # Masks changed the training; predictions are deterministic, never masked.
    assert not np.allclose(clf.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def masks(callback, epoch, n_batches=3):
    callback.on_epoch_begin(FakeNet(epoch))
    drawn = []
    for _ in range(n_batches):
        batch = fake_batch([20, 10, 5])
        callback.on_batch_begin(None, batch=batch, training=True)
        drawn.append(batch[0].x == 0)
    return torch.stack(drawn)


def test_spec_augment_masks_depend_on_seed_and_epoch_only():
    first = SpecAugment(random_state=3)
    first.on_train_begin(None)
    by_epoch = [masks(first, epoch) for epoch in (1, 2, 3)]
    assert not torch.equal(by_epoch[0], by_epoch[1])  # afresh every epoch
    # A fit resumed at epoch 3 (a new callback, as after a restart) draws epoch 3's masks.
    resumed = SpecAugment(random_state=3)
    resumed.on_train_begin(None)
    assert torch.equal(masks(resumed, 3), by_epoch[2])
    unseeded = SpecAugment()
    unseeded.on_train_begin(None)
    assert not torch.equal(masks(unseeded, 1), by_epoch[0])


def test_augmented_training_set_is_reproducible():
    rng = np.random.RandomState(0)
    clips = [rng.randn(n).astype(np.float32) for n in (800, 1200, 1000)]
    model = AugmentedClassifier(
        RecordingClassifier(), augmenter=WaveformAugmenter(), n_copies=2, random_state=7
    )
    X1, y1 = model.training_set(clips, ["a", "b", "a"])
    X2, y2 = clone(model).training_set(clips, ["a", "b", "a"])
    assert len(X1) == 9 and list(y1) == ["a", "b", "a"] * 3
    assert all(np.array_equal(a, b) for a, b in zip(X1, X2))
    assert all(np.array_equal(a, b) for a, b in zip(X1[:3], clips))
    assert not np.array_equal(X1[3], X1[6])  # two different copies of the first clip
    other, _ = model.set_params(random_state=8).training_set(clips, ["a", "b", "a"])
    assert not np.array_equal(other[3], X1[3])
    with pytest.raises(ValueError, match="3 clips but y 2 labels"):
        model.training_set(clips, ["a", "b"])


def test_add_reverb_keeps_length_and_power_and_decays_at_its_rt60():
    sr = 8000
    click = np.zeros(sr, dtype=np.float32)
    click[0] = 1.0
    wet = add_reverb(click, sr=sr, rt60=0.4, random_state=0)
    assert wet.shape == click.shape and wet.dtype == np.float32
    np.testing.assert_allclose(np.mean(wet**2), np.mean(click**2), rtol=1e-4)
    # The tail's energy falls by 60 dB over rt60: about 15 dB per 0.1 s.
    tail = wet[int(0.005 * sr) :].astype(np.float64) ** 2
    early, later = tail[: int(0.05 * sr)].mean(), tail[int(0.1 * sr) : int(0.15 * sr)].mean()
    assert 10 < 10 * np.log10(early / later) < 20
    again = add_reverb(click, sr=sr, rt60=0.4, random_state=0)
    np.testing.assert_array_equal(again, wet)
    with pytest.raises(ValueError, match="rt60 must be a time in seconds"):
        add_reverb(click, sr=sr, rt60=0.0)


def test_reverberated_copies_only_when_asked_and_the_other_draws_unchanged():
    rng = np.random.RandomState(0)
    clips = [rng.randn(4000).astype(np.float32) for _ in range(3)]
    dry = WaveformAugmenter(snr_db=None, shift=0.0).augment(clips, random_state=1)
    again = WaveformAugmenter(snr_db=None, shift=0.0, reverb_prob=0.0).augment(
        clips, random_state=1
    )
    for a, b in zip(dry, again):
        np.testing.assert_array_equal(a, b)
    wet = WaveformAugmenter(snr_db=None, shift=0.0, speed=None, reverb_prob=1.0).augment(
        clips, random_state=1
    )
    # (No speed change: each reverberated copy keeps its clip's length.)
    assert all(len(w) == len(c) and not np.allclose(w, c) for w, c in zip(wet, clips))
    with pytest.raises(ValueError, match="rt60"):
        WaveformAugmenter(reverb_prob=1.0, rt60=(0.5, 0.2)).augment(clips, random_state=0)
    with pytest.raises(ValueError, match=r"rt60=\(0.001, 0.005\) must lie within 0.01 and 10"):
        WaveformAugmenter(reverb_prob=1.0, rt60=(0.001, 0.005)).augment(clips, random_state=0)


def band_db(y, low, high, sr=8000):
    power = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return 10 * np.log10(power[(freqs >= low) & (freqs < high)].mean())


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, -1.0])
def test_colored_noise_falls_by_3_db_per_octave_per_unit_of_its_exponent(exponent):
    noise = colored_noise(160_000, exponent=exponent, sr=8000, random_state=0)
    assert noise.shape == (160_000,) and noise.dtype == np.float64
    assert np.mean(noise**2) == pytest.approx(1.0)
    # Octave bands from just above the 50-Hz floor up.
    slope = [band_db(noise, f, 2 * f) - band_db(noise, 2 * f, 4 * f) for f in (60, 200, 800)]
    np.testing.assert_allclose(slope, 10 * np.log10(2) * exponent, atol=0.3)
    # Flat below the floor, not a drift that grows with the length.
    assert abs(band_db(noise, 5, 25) - band_db(noise, 25, 45)) < 1.0
    np.testing.assert_array_equal(
        noise, colored_noise(160_000, exponent=exponent, sr=8000, random_state=0)
    )
    for n in (0, 1, 2):
        short = colored_noise(n, exponent=exponent, sr=8000, random_state=0)
        assert short.shape == (n,) and np.isfinite(short).all()


def test_colored_noise_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n must be a number of samples >= 0"):
        colored_noise(-1, exponent=1.0, sr=8000)
    with pytest.raises(TypeError, match="n must be a number of samples"):
        colored_noise(10.0, exponent=1.0, sr=8000)
    with pytest.raises(TypeError, match="exponent must be a number"):
        colored_noise(10, exponent="pink", sr=8000)
    for exponent in (float("nan"), 6.5, -200.0):
        with pytest.raises(ValueError, match=r"exponent must be a finite number within \+-6"):
            colored_noise(10, exponent=exponent, sr=8000)
    with pytest.raises(ValueError, match="sr must be a finite positive number"):
        colored_noise(10, exponent=1.0, sr=0)


def test_augmenter_gives_coloured_noise_where_it_gave_white_noise(monkeypatch):
    y = tone(300, n=16_000)
    settings = dict(speed=None, shift=0.0, snr_db=(10.0, 10.0), noise_prob=1.0)
    white = WaveformAugmenter(**settings).augment([y] * 8, random_state=0)
    again = WaveformAugmenter(**settings, noise_exponent=None).augment([y] * 8, random_state=0)
    for a, b in zip(white, again):
        np.testing.assert_array_equal(a, b)
    brown = WaveformAugmenter(**settings, noise_exponent=(2.0, 2.0)).augment(
        [y] * 8, random_state=0
    )
    for w, b in zip(white, brown):
        # The same SNR, the noise's power moved from the high band to the low one.
        assert snr_db(y, w) == pytest.approx(10.0, abs=1e-3)
        assert snr_db(y, b) == pytest.approx(10.0, abs=1e-3)
        high = band_db(w - y, 2000, 4000) - band_db(b - y, 2000, 4000)
        low = band_db(b - y, 60, 200) - band_db(w - y, 60, 200)
        assert high > 10 and low > 5

    # An exponent drawn for each copy, within the range.
    drawn = []

    def recording(n, *, exponent, sr, random_state):
        drawn.append(exponent)
        return colored_noise(n, exponent=exponent, sr=sr, random_state=random_state)

    monkeypatch.setattr(augment_module, "colored_noise", recording)
    WaveformAugmenter(**settings, noise_exponent=(0.0, 2.0)).augment([y] * 20, random_state=0)
    assert len(drawn) == 20 and len(set(drawn)) == 20
    assert 0.0 <= min(drawn) < 0.5 and 1.5 < max(drawn) <= 2.0
    # Copies of no samples stay empty.
    empty = WaveformAugmenter(**settings, noise_exponent=(0.0, 2.0)).augment(
        [np.zeros(0, np.float32)], random_state=0
    )
    assert empty[0].shape == (0,)

    # Recordings keep their share: only the synthetic noise is coloured.
    noise = np.random.RandomState(1).uniform(-1, 1, 20_000)
    both = dict(settings, noises=[noise], white_prob=0.0)
    np.testing.assert_array_equal(
        WaveformAugmenter(**both).augment([y], random_state=0)[0],
        WaveformAugmenter(**both, noise_exponent=(2.0, 2.0)).augment([y], random_state=0)[0],
    )
    for bad, message in [((2.0, 1.0), "low end"), ((0.0, 7.0), "within"), ((0, 1, 2), "pair")]:
        with pytest.raises(ValueError, match=message):
            WaveformAugmenter(noise_exponent=bad).augment([y], random_state=0)


def test_augmenter_pickled_before_noise_exponent_draws_white_noise():
    augmenter = WaveformAugmenter(shift=0.0, noise_prob=1.0)
    state = augmenter.__getstate__()
    del state["noise_exponent"]
    old = WaveformAugmenter.__new__(WaveformAugmenter)
    old.__setstate__(state)
    assert old.get_params()["noise_exponent"] is None
    clips = [tone(300)]
    np.testing.assert_array_equal(
        old.augment(clips, random_state=0)[0], augmenter.augment(clips, random_state=0)[0]
    )
