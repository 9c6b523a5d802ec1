"""Filtering, RR features, beat windows and the sequence transformer."""

import numpy as np
import pytest
from _ecg_data import MITDB, requires_mitdb
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklstm.ecg import (
    RR_FEATURES,
    RR_RATIOS,
    BeatSequences,
    ECGFilter,
    Record,
    extract_beats,
    filter_ecg,
    rr_features,
)
from sklstm.ecg._beats import _read_windows, _window_offsets
from sklstm.ecg._collection import load_beats

FS = 360.0


def synthetic_ecg(n_seconds=20, rr=0.8, fs=FS):
    """Gaussian QRS spikes and broad T waves on a flat line, and the R-peak samples."""
    t = np.arange(int(n_seconds * fs)) / fs
    peaks = np.arange(0.5, n_seconds - 0.5, rr)
    x = np.zeros_like(t)
    for p in peaks:
        x += np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - p - 0.3) / 0.05) ** 2)
    return x, np.round(peaks * fs).astype(np.int64)


def test_rr_features_exact_values():
    # Beats at 0, 1, 2, 2.5 and 4 s: RR 1, 1, 0.5 (premature), 1.5 (compensatory pause).
    f = rr_features([0, 360, 720, 900, 1440], fs=FS, local=2)
    assert f.shape == (5, len(RR_FEATURES))
    cols = dict(zip(RR_FEATURES, f.T))
    np.testing.assert_allclose(cols["pre_rr"], [1.0, 1.0, 1.0, 0.5, 1.5])
    np.testing.assert_allclose(cols["post_rr"], [1.0, 1.0, 0.5, 1.5, 1.5])
    np.testing.assert_allclose(cols["local_rr"], [1.0, 1.0, 1.0, 0.75, 1.0])
    np.testing.assert_allclose(cols["record_rr"], [1.0] * 5)
    np.testing.assert_allclose(cols["pre_local"], [1.0, 1.0, 1.0, 2 / 3, 1.5])
    np.testing.assert_allclose(cols["post_local"], [1.0, 1.0, 0.5, 2.0, 1.5])
    np.testing.assert_allclose(cols["pre_record"], cols["pre_rr"])
    np.testing.assert_allclose(cols["post_record"], cols["post_rr"])
    np.testing.assert_allclose(cols["post_pre"], [1.0, 1.0, 0.5, 3.0, 1.0])
    # Mean |change| of the previous RR over the 2 beats before, over local RR:
    # only the last beat has the early beat's change (0.5) behind it.
    np.testing.assert_allclose(cols["irregularity"], [0.0, 0.0, 0.0, 0.0, 0.25])
    # A regular rhythm has none; alternating long-short intervals a lot.
    steady = rr_features(np.arange(0, 7200, 300), fs=FS)[:, -1]
    alternating = rr_features(np.cumsum([300, 200] * 12), fs=FS)[:, -1]
    assert np.all(steady == 0) and np.all(alternating[12:] > 0.35)
    with pytest.raises(ValueError, match="at least two beats"):
        rr_features([10], fs=FS)


@pytest.mark.parametrize("baseline", ["median", "highpass"])
def test_filter_removes_baseline_drift_and_keeps_qrs(baseline):
    x, peaks = synthetic_ecg()
    t = np.arange(len(x)) / FS
    drift = 0.8 * np.sin(2 * np.pi * 0.15 * t) + 0.3 * t / t[-1]
    noise = 0.05 * np.sin(2 * np.pi * 60 * t)
    out = filter_ecg(x + drift + noise, fs=FS, baseline=baseline)
    clean = filter_ecg(x, fs=FS, baseline=baseline)
    inner = slice(int(2 * FS), -int(2 * FS))
    residual = np.abs(out - clean)[inner]
    # R peaks keep most of their height.
    assert np.median(out[peaks[3:-3]]) > 0.85
    if baseline == "highpass":
        # The 0.8 mV drift and the mains hum are gone to within 0.02 mV.
        assert residual.max() < 0.02
    else:
        # The median baseline follows the drift less closely under the waves...
        assert np.percentile(residual, 50) < 0.04 and residual.max() < 0.2
        # ...but leaves the line between beats flat at zero.
        between = np.ones(len(x), dtype=bool)
        for p in peaks:
            between[max(p - 60, 0) : p + 180] = False
        assert np.abs(out[inner][between[inner]]).max() < 0.06


def test_ecg_filter_transformer_matches_function():
    x, _ = synthetic_ecg(5)
    X = np.vstack([x, -x])
    np.testing.assert_allclose(ECGFilter().fit_transform(X), filter_ecg(X, fs=FS))


def test_extract_beats_on_synthetic_record():
    x, peaks = synthetic_ecg(10)
    symbols = np.array(["N"] * len(peaks))
    symbols[3] = "V"
    rec = Record("s", 2 * x, FS, "MLII", peaks, symbols, np.zeros((0, 2), dtype=np.int64))
    beats = extract_beats(rec, before=0.25, after=0.45, sampling_rate=90)
    # 22 steps of 4 samples before the R peak, the peak, 40 steps after.
    assert beats.n_steps == 63 and beats.n_signals == 2
    assert beats.X.shape == (len(peaks), 2 * 63 + len(RR_RATIOS)) and beats.X.dtype == np.float32
    assert beats.feature_names[-len(RR_RATIOS) :] == list(RR_RATIOS)
    assert beats.y.tolist() == ["N", "N", "N", "V"] + ["N"] * (len(peaks) - 4)
    # Per-record amplitude normalization: the R peak (step 22) is 1.
    window, relative = beats.X[:, :63], beats.X[:, 63:126]
    np.testing.assert_allclose(window[:, 22], 1.0, rtol=0.03)
    assert (window.argmax(axis=1) == 22).all()
    # Identical beats do not depart from the record's median beat.
    assert np.abs(relative[2:-2]).max() < 0.01
    np.testing.assert_allclose(beats.X[:, 126:], 1.0, rtol=1e-5)  # a steady rhythm
    plain = extract_beats(rec, relative=False, rr=["pre_rr"])
    assert plain.n_signals == 1 and plain.X.shape == (len(peaks), 64)
    np.testing.assert_allclose(plain.X[:, 63], 0.8, rtol=1e-5)
    assert (beats.groups == "s").all()
    detected = extract_beats(rec, r_peaks="detect")
    assert np.abs(detected.samples - peaks).max() <= 2
    assert detected.y.tolist() == beats.y.tolist()


def test_beat_sequences_repeats_rr_channels():
    X = np.arange(2 * 7, dtype=np.float32).reshape(2, 7)
    seq = BeatSequences(n_signals=1, n_static=3).fit_transform(X)
    assert seq.shape == (2, 4, 4) and seq.dtype == np.float32
    np.testing.assert_array_equal(seq[:, :, 0], X[:, :4])
    np.testing.assert_array_equal(seq[1, :, 1:], np.tile(X[1, 4:], (4, 1)))
    assert BeatSequences(n_signals=1, n_static=3, static="drop").fit_transform(X).shape == (
        2,
        4,
        1,
    )
    # Two signals of 2 steps each, then 3 scalars.
    seq = BeatSequences(n_signals=2, n_static=3).fit_transform(X)
    assert seq.shape == (2, 2, 5)
    np.testing.assert_array_equal(seq[0], [[0, 2, 4, 5, 6], [1, 3, 4, 5, 6]])
    with pytest.raises(ValueError, match="n_static=7"):
        BeatSequences(n_static=7).fit(X)
    with pytest.raises(ValueError, match="n_signals=3"):
        BeatSequences(n_signals=3, n_static=3).fit(X)


@parametrize_with_checks([ECGFilter(), BeatSequences(n_signals=1, n_static=1)])
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


@requires_mitdb
def test_load_beats_groups_and_classes():
    beats = load_beats(MITDB, ["119", "209", "102"], n_jobs=2)
    assert beats.records == ["119", "209"]  # 102 is paced
    assert beats.X.shape[0] == len(beats.y) == len(beats.groups)
    assert set(beats.groups) == {"119", "209"}
    counts = dict(zip(*np.unique(beats.y, return_counts=True)))
    assert counts["V"] == 444 + 1 and counts["S"] == 383 + 0


@pytest.mark.parametrize("fs", [100.0, 128.0, 250.0, 500.0, 1000.0])
def test_windows_have_the_same_steps_at_any_rate(fs):
    """Steps exactly 1/90 s apart; the signal read between its samples closely."""
    offsets = _window_offsets(fs, 0.25, 0.45, 90.0)
    np.testing.assert_allclose(offsets, np.arange(-22, 41) * fs / 90.0)
    t = np.arange(int(20 * fs)) / fs
    # Content below the 35-Hz low-pass, as the filtered ECG has.
    x = np.sin(2 * np.pi * 7.0 * t) + 0.5 * np.sin(2 * np.pi * 31.0 * t + 1.0)
    peaks = np.array([int(3 * fs), int(9 * fs) + 1, int(15 * fs) + 2])
    windows = _read_windows(x, peaks, offsets, n=len(x))
    times = (peaks[:, None] + offsets) / fs
    exact = np.sin(2 * np.pi * 7.0 * times) + 0.5 * np.sin(2 * np.pi * 31.0 * times + 1.0)
    # (31 Hz is close to the Nyquist frequency of 100 Hz.)
    assert np.abs(windows - exact).max() < {100.0: 2e-2, 128.0: 3e-3}.get(fs, 1e-4)


def test_windows_at_a_multiple_of_the_step_rate_are_the_samples_themselves():
    offsets = _window_offsets(360.0, 0.25, 0.45, 90.0)
    assert offsets.dtype == np.int64
    np.testing.assert_array_equal(offsets, np.arange(-22, 41) * 4)
    x = np.random.RandomState(0).randn(5000)
    peaks = np.array([100, 2000, 4990])
    expected = x[np.clip(peaks[:, None] + offsets, 0, len(x) - 1)]
    np.testing.assert_array_equal(_read_windows(x, peaks, offsets, n=len(x)), expected)
    # Read from a stretch that starts at sample 1000 of the record: the same values.
    np.testing.assert_array_equal(
        _read_windows(x[1000:], peaks[1:2], offsets, n=len(x), first=1000), expected[1:2]
    )
