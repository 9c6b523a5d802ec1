"""MFCC: agreement with librosa, shapes, input formats, errors, scikit-learn compatibility."""

import pickle
import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf
from _data import DATA
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklstm
from sklstm.audio import MFCC, AudioFileError

FSDD = DATA / "fsdd" / "recordings"


def speech_like(n, seed=0, sr=8000):
    """A voiced, gliding tone with noise and silence: varied spectra, exact-zero frames."""
    rng = np.random.RandomState(seed)
    t = np.arange(n) / sr
    f0 = 120 + 60 * t
    y = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / sr) / k for k in range(1, 12))
    y = y * np.hanning(n) + 0.01 * rng.randn(n)
    y[: n // 10] = 0.0
    return (0.1 * y).astype(np.float32)


def clips():
    if FSDD.is_dir():
        names = ["0_george_10.wav", "7_jackson_21.wav", "3_yweweler_49.wav", "9_theo_5.wav"]
        return [sf.read(FSDD / name, dtype="float32")[0] for name in names]
    return [speech_like(n, seed=n) for n in (1200, 3500, 7001)]


def librosa_mfcc(y, m):
    if m.top_db == 80.0:  # librosa.feature.mfcc's own setting
        mfcc = librosa.feature.mfcc(
            y=y,
            sr=m.sr,
            n_mfcc=m.n_mfcc,
            n_fft=m.n_fft,
            hop_length=m.hop_length,
            win_length=m.win_length,
            window=m.window,
            n_mels=m.n_mels,
            fmin=m.fmin,
            fmax=m.fmax,
        )
    else:
        mel = librosa.feature.melspectrogram(
            y=y,
            sr=m.sr,
            n_fft=m.n_fft,
            hop_length=m.hop_length,
            win_length=m.win_length,
            window=m.window,
            n_mels=m.n_mels,
            fmin=m.fmin,
            fmax=m.fmax,
        )
        S = librosa.power_to_db(mel, top_db=m.top_db)
        mfcc = librosa.feature.mfcc(S=S, n_mfcc=m.n_mfcc)
    parts = [mfcc] + [
        librosa.feature.delta(mfcc, width=m.delta_width, order=order)
        for order in range(1, m.deltas + 1)
    ]
    return np.concatenate(parts).T


SETTINGS = [
    dict(),
    dict(win_length=200, fmin=20.0, fmax=3800.0, n_mfcc=20, n_mels=64),
    dict(n_fft=512, hop_length=128, window="hamming", top_db=None),
    dict(n_fft=255, hop_length=77, deltas=2),
    dict(deltas=1, delta_width=5, n_mfcc=40),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_matches_librosa(settings):
    waves = clips() + [speech_like(999, seed=1)]
    m = MFCC(**settings).fit(waves)
    features = m.transform(waves)
    for y, got in zip(waves, features):
        expected = librosa_mfcc(y, m)
        assert got.shape == expected.shape
        assert got.dtype == np.float32
        # float32 FFTs of dB values up to ~500: agreement to 1e-3 dB.
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_deltas_of_short_clips_use_the_widest_window_that_fits():
    m = MFCC(deltas=2, delta_width=9).fit([np.zeros(1)])
    y = speech_like(400)  # 6 frames: width 5
    got = m.transform([y])[0]
    mfcc = got[:, :13].T
    np.testing.assert_allclose(
        got[:, 13:26], librosa.feature.delta(mfcc, width=5, order=1).T, rtol=1e-4, atol=1e-3
    )
    np.testing.assert_allclose(
        got[:, 26:], librosa.feature.delta(mfcc, width=5, order=2).T, rtol=1e-4, atol=1e-3
    )
    # Two frames: no odd window holds a second-order fit; one frame: none at all.
    two = m.transform([y[:80]])[0]
    assert two.shape == (2, 39)
    assert np.all(two[:, 26:] == 0)
    one = m.transform([y[:10]])[0]
    assert one.shape == (1, 39)
    assert np.all(one[:, 13:] == 0)


def test_shapes_of_each_input_format(tmp_path):
    waves = [speech_like(n) for n in (800, 1601, 5000)]
    m = MFCC(n_mfcc=12, deltas=1, hop_length=80).fit(waves)
    out = m.transform(waves)
    assert isinstance(out, list)
    assert [f.shape for f in out] == [(11, 24), (21, 24), (63, 24)]
    assert m.n_features_out_ == 24
    assert list(m.n_frames(np.array([800, 1601, 5000]))) == [11, 21, 63]

    paths = []
    for i, y in enumerate(waves):
        paths.append(tmp_path / f"{i}.wav")
        sf.write(paths[-1], y, 8000, subtype="FLOAT")
    from_files = m.transform([str(p) for p in paths[:2]] + [paths[2]])
    for a, b in zip(out, from_files):
        np.testing.assert_array_equal(a, b)

    array = m.fit_transform(np.stack([waves[1], waves[1][::-1]]))
    assert array.shape == (2, 21, 24)
    np.testing.assert_array_equal(array[0], out[1])


def test_files_at_another_rate_are_resampled(tmp_path):
    y16 = librosa.resample(speech_like(8000, sr=8000), orig_sr=8000, target_sr=16000)
    path = tmp_path / "clip16k.wav"
    sf.write(path, y16, 16000)
    m = MFCC().fit([path])
    got = m.transform([path])[0]
    direct = m.transform([speech_like(8000, sr=8000)])[0]
    assert got.shape == direct.shape == (101, 13)
    # Two resamplings apart; the cepstra agree closely where there is signal.
    assert np.median(np.abs(got[20:-20] - direct[20:-20])) < 2.0


def test_per_utterance_normalization():
    waves = [speech_like(3000), 5 * speech_like(2000, seed=3)]
    mean = MFCC(normalize="mean", deltas=1).fit_transform(waves)
    both = MFCC(normalize="mean_var", deltas=1).fit_transform(waves)
    raw = MFCC(deltas=1).fit_transform(waves)
    for m, b, r in zip(mean, both, raw):
        np.testing.assert_allclose(m.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(m, r - r.mean(axis=0), atol=1e-3)
        np.testing.assert_allclose(b.std(axis=0), 1, atol=1e-4)
    # A gain is a constant offset of c0 only, which mean normalization removes.
    loud = MFCC(normalize="mean").fit_transform([10 * waves[0]])[0]
    np.testing.assert_allclose(loud, mean[0][:, :13], atol=1e-3)


def test_frames_cut_as_they_arrive_get_exactly_the_features_of_the_whole_clip():
    from numpy.lib.stride_tricks import sliding_window_view

    rng = np.random.RandomState(0)
    y = (0.1 * rng.randn(8000 * 2 + 37)).astype(np.float32)
    mfcc = MFCC(n_fft=256, hop_length=160, top_db=None).fit([y])
    whole = mfcc.transform([y])[0]
    padded = np.concatenate([np.zeros(128, np.float32), y, np.zeros(128, np.float32)])
    frames = sliding_window_view(padded, 256)[::160][: len(whole)]
    parts = [
        mfcc._frame_features(np.array(frames[a:b]))
        for a, b in [(0, 1), (1, 8), (8, 11), (11, len(whole))]
    ]
    np.testing.assert_array_equal(np.vstack(parts), whole)
    for settings in (dict(top_db=80.0), dict(deltas=1), dict(normalize="mean")):
        other = MFCC(n_fft=256, hop_length=160, **{"top_db": None, **settings}).fit([y])
        with pytest.raises(ValueError, match="depend on the whole clip"):
            other._frame_features(np.array(frames[:2]))


def test_errors():
    m = MFCC().fit([np.zeros(100)])
    with pytest.raises(ValueError, match="1D array"):
        m.transform(np.zeros(1000))
    with pytest.raises(ValueError, match="Clip 1 is empty"):
        m.transform([np.zeros(10, dtype=np.float32), np.zeros(0, dtype=np.float32)])
    with pytest.raises(ValueError, match="Clip 0 contains NaN"):
        m.transform([np.array([0.0, np.nan], dtype=np.float32)])
    with pytest.raises(AudioFileError, match="nowhere.wav: no such file"):
        m.transform(["nowhere.wav"])
    # Squared over a frame, samples this large would overflow float32 into NaN.
    with pytest.raises(ValueError, match="Clip 1: samples of magnitude up to 1e.20"):
        m.transform([np.zeros(10, dtype=np.float32), np.full(500, 1e20, dtype=np.float32)])
    assert np.isfinite(m.transform([np.full(500, 2.0**31 - 1)])[0]).all()  # int32 range
    with pytest.raises(ValueError, match="n_mfcc=20 must be at most n_mels=10"):
        MFCC(n_mfcc=20, n_mels=10).fit([np.zeros(10)])
    with pytest.raises(ValueError, match="win_length=300 must be at most n_fft=256"):
        MFCC(win_length=300).fit([np.zeros(10)])
    with pytest.raises(ValueError, match="fmax"):
        MFCC(fmax=5000.0).fit([np.zeros(10)])
    with pytest.raises(ValueError, match="empty"):
        MFCC().fit([])


def test_saved_and_loaded_in_the_data_only_format(tmp_path):
    m = MFCC(deltas=2, normalize="mean", window=("kaiser", 4.0)).fit([np.zeros(10)])
    sklstm.save(m, tmp_path / "mfcc.sklstm")
    loaded = sklstm.load(tmp_path / "mfcc.sklstm")
    clips = [speech_like(3000), speech_like(1234, seed=2)]
    for a, b in zip(m.transform(clips), loaded.transform(clips)):
        np.testing.assert_array_equal(a, b)
    assert pickle.loads(pickle.dumps(m)).get_params() == m.get_params()


def test_fitted_transformer_needs_neither_librosa_nor_numba(tmp_path):
    """predict in a fresh process pays no librosa import and no JIT compilation."""
    path = tmp_path / "mfcc.sklstm"
    sklstm.save(MFCC(deltas=2, normalize="mean").fit([np.zeros(10)]), path)
    code = (
        "import sys, numpy as np, sklstm\n"
        f"m = sklstm.load({str(path)!r})\n"
        "out = m.transform([np.random.RandomState(0).randn(8000).astype(np.float32)])\n"
        "assert out[0].shape == (101, 39), out[0].shape\n"
        "print(sorted(k for k in ('librosa', 'numba') if k in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@parametrize_with_checks(
    [
        MFCC(),
        MFCC(deltas=2, delta_width=3, normalize="mean_var", n_fft=64, hop_length=16, n_mels=16),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
