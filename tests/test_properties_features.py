"""Property-based tests of the feature transformers: odd input works or fails clearly.

The audio (MFCC, augmentation, resampling), ECG (filtering, R-peak detection,
RR features, beat windows and sequences) and forecasting (windows, forecaster)
counterparts of ``test_properties.py``. Hypothesis draws lengths (empty, one
sample, short, long), formats, dtypes, values (NaN, infinity, constants,
silence, huge numbers) and parameters (valid and not). Every call must either
succeed with finite output of the documented shape and dtype, or raise
ValueError, TypeError or NotFittedError (or a subclass such as AudioFileError)
with a message that names the problem: input that is known to be bad (not
finite, empty, a missing file, a parameter out of range) must be refused, and
its message must say why.
"""

import re
import warnings

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline
from test_properties import CLEAR_ERRORS, DTYPES, SETTINGS, VALUES, _values, targets

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.audio import (
    MFCC,
    AudioFileError,
    AugmentedClassifier,
    WaveformAugmenter,
    add_noise,
    change_speed,
    change_tempo,
    load_audio,
    resample,
    shift_pitch,
    speech_segments,
    spot_keywords,
    time_shift,
)
from sklstm.ecg import (
    RR_FEATURES,
    BeatSequences,
    ECGFilter,
    Record,
    RecordError,
    detect_r_peaks,
    extract_beats,
    filter_ecg,
    rr_features,
)
from sklstm.forecasting import LSTMForecaster, SlidingWindows, make_windows

# Fewer examples where each one trains a network.
TRAINING_SETTINGS = settings(SETTINGS, max_examples=20)

# Half the draws ordinary values and float dtypes, so that valid input gets far too.
MOSTLY_NORMAL = st.one_of(st.just("normal"), VALUES)
MOSTLY_FLOAT = st.one_of(st.sampled_from(["float64", "float32"]), DTYPES)

NON_FINITE = r"NaN|infinity|float32 range|range of float32|too large"
EMPTY = r"empty|no samples|0 sample|0 feature|0 clips|minimum of 1"


def _outcome(fn, *args, **kwargs):
    """``(result, None)``, or ``(None, error)`` for a clear refusal; any other exception fails.

    A refusal must have a message. UserWarnings (convergence, librosa's empty
    mel bands) are allowed; a RuntimeWarning (overflow, NaN arithmetic) in sklstm's
    code is an error.
    """
    name = getattr(fn, "__name__", "call")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.filterwarnings("error", category=RuntimeWarning, module="sklstm")
            out = fn(*args, **kwargs)
    except CLEAR_ERRORS as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        event(f"{name}: refused")  # --hypothesis-show-statistics counts them
        event(f"{name}: {type(exc).__name__}: {str(exc)[:50]}")
        return None, exc
    event(f"{name}: accepted")
    return out, None


def _refused(error, pattern, what):
    """Assert that bad input ``what`` was refused with a message matching ``pattern``."""
    assert error is not None, f"{what} was accepted"
    assert re.search(pattern, str(error), re.IGNORECASE), (
        f"{what}: the message does not say so: {error}"
    )


def _ndim(x):
    """Dimensions of an array-like; -1 for a ragged one."""
    try:
        return np.ndim(x)
    except ValueError:
        return -1


def _finite(x):
    return bool(np.isfinite(np.asarray(x, dtype=np.float64)).all())


def _is_non_finite(x):
    """Whether a numeric array holds NaN or infinity (as the library will read it)."""
    x = np.asarray(x)
    if x.dtype.kind not in "fO" or x.size == 0:
        return False
    try:
        return not _finite(x)
    except (TypeError, ValueError):
        return False


@st.composite
def waveforms(draw, lengths=(0, 1, 5, 300, 8000, 24000)):
    """A 1D waveform of any length, dtype and kind of values (silence included)."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    n = draw(st.sampled_from(lengths))
    kind = draw(st.one_of(MOSTLY_NORMAL, st.just("silent")))
    dtype = draw(MOSTLY_FLOAT)
    if kind == "silent":
        return np.zeros(n, dtype=dtype)
    return _values(rng, (n,), kind, dtype)


def _as_float(y):
    with np.errstate(all="ignore"):
        return np.asarray(y, dtype=np.float64)


# -- audio ------------------------------------------------------------------------


def test_audio_errors_are_value_errors():
    assert issubclass(AudioFileError, ValueError)
    assert issubclass(RecordError, ValueError)


class Seconds(float):
    """A clip's length in seconds (a file's), rather than in samples."""


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    """Files of every kind: good WAVs at two rates, empty, not audio, truncated."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.RandomState(0)
    good = folder / "good.wav"
    sf.write(good, (0.1 * rng.randn(4000)).astype(np.float32), 8000)
    fast = folder / "fast.wav"
    sf.write(fast, (0.1 * rng.randn(8000)).astype(np.float32), 16000)
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    text = folder / "text.wav"
    text.write_text("not audio at all\n")
    truncated = folder / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:2000])
    return {
        "good": (str(good), Seconds(0.5)),
        "fast": (str(fast), Seconds(0.5)),
        "empty": (str(empty), None),
        "text": (str(text), None),
        "truncated": (str(truncated), None),
        "missing": (str(folder / "missing.wav"), None),
        "not a path": ("hello, world", None),
    }


MFCC_PARAMS = [
    ({}, None),
    ({}, None),
    ({}, None),
    ({"deltas": 2}, None),
    ({"deltas": 2, "normalize": "mean_var"}, None),
    ({"top_db": None, "normalize": "mean", "deltas": 1, "delta_width": 3}, None),
    ({"n_mfcc": 50}, "n_mfcc"),
    ({"fmax": 5000.0}, "fmax"),
    ({"fmin": 4000.0}, "fmin"),
    ({"hop_length": 0}, "hop_length"),
    ({"n_fft": 1}, "n_fft"),
    ({"win_length": 300}, "win_length"),
    ({"delta_width": 4}, "delta_width"),
    ({"window": "no-such-window"}, "window"),
    ({"sr": 0}, "sr"),
    ({"sr": 16000, "n_fft": 512, "hop_length": 160}, None),
    ({"n_fft": 16, "n_mels": 8, "n_mfcc": 4, "hop_length": 1}, None),
]


@st.composite
def clip_inputs(draw, files):
    """MFCC's input in any of its formats, valid or not, with what it holds.

    Returns ``(X, lengths, as_list, bad)``: the clips' lengths in samples at 8 kHz
    (None when unknown), whether the output is a list, and, for input that must
    be refused, ``(message pattern, description)``.
    """
    fmt = draw(st.sampled_from(["list", "array2d", "channels", "files", "empty_list"]))
    n = draw(st.sampled_from([0, 1, 2, 3])) if fmt == "array2d" else draw(st.integers(1, 3))
    if fmt == "empty_list":
        return [], [], True, (EMPTY, "an empty list of clips")
    if fmt == "files":
        names = draw(
            st.lists(
                st.one_of(st.sampled_from(["good", "fast"]), st.sampled_from(sorted(files))),
                min_size=1,
                max_size=3,
            )
        )
        paths = [files[name][0] for name in names]
        bad = [name for name in names if files[name][1] is None]
        if bad:
            return paths, None, True, (re.escape(files[bad[0]][0]), f"the file {bad[0]}")
        return paths, [files[name][1] for name in names], True, None
    if fmt == "array2d":
        wave = draw(waveforms())
        X = np.stack([wave] * n) if n else np.zeros((0, len(wave)), dtype=wave.dtype)
        return X, [len(wave)] * n, False, _bad_waves(list(X), n, in_list=False)
    clips = [draw(waveforms()) for _ in range(n)]
    if fmt == "channels":
        clips = [np.stack([c, c[::-1]]) for c in clips]
    return clips, [c.shape[-1] for c in clips], True, _bad_waves(clips, n_clips=n)


def _bad_waves(clips, n_clips, in_list=True):
    """What MFCC must refuse in these clips: ``(pattern, description)``, or None.

    Clips are read in order and the first problem is reported, so the pattern
    accepts the message of any problem present.
    """
    if n_clips == 0:
        return EMPTY, "no clips"
    problems = {}
    for c in clips:
        if in_list and c.dtype == object:
            # Clips in a list are waveforms, which hold numbers (as load_audio reads them).
            problems[r"numbers, got dtype object"] = "an object clip"
        elif _is_non_finite(c):
            problems[NON_FINITE] = "a clip with NaN or infinity"
        elif np.shape(c)[-1] == 0:
            problems[EMPTY] = "an empty clip"
        elif np.abs(_as_float(c)).max() > 1e12:
            problems[r"magnitude|beyond|float32 range"] = "samples of huge magnitude"
    if not problems:
        return None
    return "|".join(problems), " and ".join(problems.values())


def _check_mfcc_output(mfcc, out, lengths, as_list):
    lengths = [round(n * mfcc.sr) if isinstance(n, Seconds) else n for n in lengths]
    frames = [int(mfcc.n_frames(n)) for n in lengths]
    if as_list:
        assert isinstance(out, list) and len(out) == len(lengths)
        for f, t in zip(out, frames):
            assert f.shape == (t, mfcc.n_features_out_) and f.dtype == np.float32
            assert np.isfinite(f).all(), "non-finite MFCC"
    else:
        assert out.shape == (len(lengths), frames[0], mfcc.n_features_out_)
        assert out.dtype == np.float32 and np.isfinite(out).all()


@SETTINGS
@given(data=st.data())
def test_mfcc_accepts_or_clearly_refuses_any_input(audio_files, data):
    X, lengths, as_list, bad = data.draw(clip_inputs(audio_files))
    params, bad_param = data.draw(st.sampled_from(MFCC_PARAMS))
    mfcc = MFCC(**params)
    _, error = _outcome(mfcc.transform, X)
    _refused(error, "not fitted", "transform before fit")
    out, error = _outcome(mfcc.fit_transform, X)
    if bad_param is not None:
        # Parameters are checked first, whatever the data.
        if error is None or not re.search(bad_param, str(error)):
            _refused(error, rf"{bad_param}|{bad[0] if bad else bad_param}", f"bad {params}")
        return
    if bad is not None:
        _refused(error, bad[0], bad[1])
        if isinstance(X, list) and X and isinstance(X[0], str):
            assert isinstance(error, AudioFileError)
        return
    assert error is None, f"valid clips refused: {error}"
    _check_mfcc_output(mfcc, out, lengths, as_list)
    # The fitted transformer on other clips, in any format.
    X2, lengths2, as_list2, bad2 = data.draw(clip_inputs(audio_files))
    out, error = _outcome(mfcc.transform, X2)
    if bad2 is not None:
        _refused(error, bad2[0], bad2[1])
    elif error is None:
        _check_mfcc_output(mfcc, out, lengths2, as_list2)
    else:
        # A 2D array after a 2D fit must have the fitted number of samples.
        assert not as_list and not as_list2, f"valid clips refused: {error}"
        assert re.search("features", str(error))


def _draw_param(data, choices):
    return data.draw(st.sampled_from(choices))


# Each function, its valid and invalid parameters (None: valid), and its output length.
AUGMENT_FUNCTIONS = {
    "add_noise": (
        add_noise,
        [
            ({"snr_db": 10.0, "random_state": 0}, None),
            ({"snr_db": -30.0, "random_state": 0}, None),
            ({"snr_db": 5.0, "noise": np.ones(7), "random_state": 0}, None),
            ({"snr_db": float("nan")}, "snr_db"),
            ({"snr_db": "loud"}, "snr_db"),
            ({"snr_db": 5.0, "noise": np.zeros(0)}, "noise"),
            ({"snr_db": 5.0, "noise": np.array([1.0, np.nan])}, "noise"),
        ],
        lambda n, p: n,
    ),
    "time_shift": (
        time_shift,
        [
            ({"before": 3, "after": 2}, None),
            ({"before": -4, "after": -400}, None),
            ({"before": 0, "after": 0}, None),
            ({"before": 1.5, "after": 0}, "before"),
            ({"before": 0, "after": 10**12}, "samples"),
        ],
        lambda n, p: max(1, n + p["before"] + p["after"]),
    ),
    "change_speed": (
        change_speed,
        [
            ({"rate": 1.1}, None),
            ({"rate": 0.5}, None),
            ({"rate": 1000.0}, None),
            ({"rate": 0}, "rate"),
            ({"rate": -1.0}, "rate"),
            ({"rate": float("nan")}, "rate"),
            ({"rate": float("inf")}, "rate"),
            ({"rate": 1e-12}, "rate"),
            ({"rate": 1e10}, "rate"),  # soxr used to hang on this ratio
        ],
        lambda n, p: int(np.floor(n / p["rate"] + 0.5)),
    ),
    "change_tempo": (
        change_tempo,
        [
            ({"rate": 1.25}, None),
            ({"rate": 0.8}, None),
            ({"rate": 1000.0}, None),
            ({"rate": 0}, "rate"),
            ({"rate": -2.0}, "rate"),
            ({"rate": float("nan")}, "rate"),
            ({"rate": float("inf")}, "rate"),
            ({"rate": 1e-12}, "samples"),
        ],
        lambda n, p: int(round(n / p["rate"])) if n > 1 else n,
    ),
    "shift_pitch": (
        shift_pitch,
        [
            ({"n_steps": 3}, None),
            ({"n_steps": -2.5}, None),
            ({"n_steps": 60}, None),
            ({"n_steps": float("nan")}, "n_steps"),
            ({"n_steps": 1e6}, "n_steps"),
            ({"n_steps": -1e6}, "n_steps"),
            ({"n_steps": "up"}, "n_steps"),
        ],
        lambda n, p: n,
    ),
    "resample": (
        resample,
        [
            ({"orig_sr": 16000, "target_sr": 8000}, None),
            ({"orig_sr": 8000, "target_sr": 8000}, None),
            ({"orig_sr": 8000, "target_sr": 22050}, None),
            ({"orig_sr": 0, "target_sr": 8000}, "orig_sr"),
            ({"orig_sr": 8000, "target_sr": float("nan")}, "target_sr"),
            ({"orig_sr": 8000, "target_sr": -1}, "target_sr"),
            ({"orig_sr": 1e-9, "target_sr": 8000}, "factor"),
            ({"orig_sr": 1e13, "target_sr": 1000}, "factor"),  # soxr used to hang
        ],
        lambda n, p: int(np.floor(n * p["target_sr"] / p["orig_sr"] + 0.5)),
    ),
}


@st.composite
def any_waveform(draw):
    """A waveform, or something that is not one (2D, scalar, strings, a list)."""
    fmt = draw(st.sampled_from(["1d"] * 5 + ["2d", "scalar", "strings", "list"]))
    if fmt == "2d":
        return np.ones((2, 50), dtype=np.float32), "shape|dimension"
    if fmt == "scalar":
        return np.float32(0.5), "shape|dimension"
    if fmt == "strings":
        return np.array(["a", "b"]), "numbers|dtype"
    if fmt == "list":
        return [0.0, 0.5, -0.5], None
    y = draw(waveforms(lengths=(0, 1, 5, 300, 4000)))
    if y.dtype == object:
        return y, r"dtype object"  # a waveform holds numbers, as load_audio reads them
    beyond_float32 = y.size and np.abs(_as_float(y)).max() > np.finfo(np.float32).max
    return y, (NON_FINITE if _is_non_finite(y) or beyond_float32 else None)


@pytest.mark.parametrize("name", sorted(AUGMENT_FUNCTIONS))
@SETTINGS
@given(data=st.data())
def test_augmentation_functions_accept_or_clearly_refuse(name, data):
    fn, choices, length = AUGMENT_FUNCTIONS[name]
    y, bad = data.draw(any_waveform())
    params, bad_param = _draw_param(data, choices)
    out, error = _outcome(fn, y, **params)
    if bad_param == "samples" and name == "change_tempo" and np.size(y) == 0:
        bad_param = None  # an absurd ratio is harmless on no samples: none come out
    if bad is not None or bad_param is not None:
        _refused(error, "|".join(p for p in (bad, bad_param) if p), f"{name}({y!r}, {params})")
        return
    assert error is None, f"valid waveform refused: {error}"
    assert out.ndim == 1 and out.dtype == np.float32
    assert np.isfinite(out).all(), "non-finite output"
    assert len(out) == length(len(y), params)


AUGMENTER_PARAMS = [
    ({}, None),
    ({}, None),
    ({"speed": (0.8, 1.2), "pitch": (-3.0, 3.0)}, None),
    ({"speed": None, "tempo": (0.8, 1.25), "pitch": (-2.0, 2.0), "shift": 0.0}, None),
    ({"snr_db": (-10.0, 0.0), "noise_prob": 1.0, "noises": [np.ones(100)]}, None),
    ({"noise_prob": 1.0, "noise_exponent": (-1.0, 2.0), "shift": 0.0}, None),
    ({"noise_exponent": (0.0, 9.0)}, "noise_exponent"),
    ({"speed": (0.0, 1.0)}, "speed"),
    ({"speed": (1.2, 0.9)}, "speed"),
    ({"speed": (1.0,)}, "speed"),
    ({"tempo": (float("nan"), 1.0)}, "tempo"),
    ({"pitch": (-500.0, 0.0), "speed": None}, "pitch"),
    ({"snr_db": (1.0, float("inf"))}, "snr_db"),
    ({"noise_prob": 2.0}, "noise_prob"),
    ({"shift": -1.0}, "shift"),
    ({"noises": [np.zeros(0)]}, r"noises\[0\]"),
    ({"noises": [np.array([np.nan])]}, r"noises\[0\]"),
]


@SETTINGS
@given(data=st.data())
def test_waveform_augmenter_accepts_or_clearly_refuses(data):
    n = data.draw(st.integers(0, 3))
    clips = [data.draw(waveforms(lengths=(0, 1, 5, 300, 4000))) for _ in range(n)]
    params, bad_param = _draw_param(data, AUGMENTER_PARAMS)
    copies, error = _outcome(WaveformAugmenter(**params).augment, clips, random_state=0)
    if bad_param is not None:
        _refused(error, bad_param, f"WaveformAugmenter({params})")
        return
    bad = [i for i, c in enumerate(clips) if _is_non_finite(c) or c.dtype == object]
    if bad:
        i = bad[0]
        _refused(error, rf"Clip {i}.*({NON_FINITE}|dtype object)", "a clip that is no waveform")
        return
    assert error is None, f"valid clips refused: {error}"
    assert len(copies) == n
    for copy in copies:
        assert copy.ndim == 1 and copy.dtype == np.float32 and np.isfinite(copy).all()


@TRAINING_SETTINGS
@given(data=st.data())
def test_augmented_classifier_accepts_or_clearly_refuses(data):
    n = data.draw(st.sampled_from([0, 1, 2, 4, 4]))
    if data.draw(st.booleans()):
        clips = [data.draw(waveforms(lengths=(0, 1, 300, 2000, 2000))) for _ in range(n)]
    else:  # clean clips, so that training gets far half the time
        clips = [0.1 * np.random.RandomState(i).randn(2000).astype(np.float32) for i in range(n)]
    y = data.draw(st.one_of(st.just(np.arange(n) % 2), targets(n, regression=False)))
    model = AugmentedClassifier(
        make_pipeline(MFCC(n_mfcc=4, n_mels=8), LSTMClassifier(hidden_size=2, max_iter=2)),
        augmenter=WaveformAugmenter(shift=0.01),
        n_copies=data.draw(st.sampled_from([0, 1])),
        random_state=0,
    )
    _, error = _outcome(model.predict, clips)
    _refused(error, "not fitted", "predict before fit")
    _, error = _outcome(model.fit, clips, y)
    bad = _bad_waves(clips, n)
    if bad is not None:
        _refused(error, bad[0] + "|float32", bad[1])
        return
    if error is not None:
        return
    for method in ("predict", "predict_proba"):
        out, error = _outcome(getattr(model, method), clips)
        assert error is None, f"{method} refused the clips fit accepted: {error}"
        assert len(out) == n
        if method == "predict_proba":
            assert np.isfinite(out).all() and np.allclose(out.sum(axis=1), 1, atol=1e-5)
        else:
            assert set(out) <= set(model.classes_)
    score, _ = _outcome(model.score, clips, np.array(["never-seen"] * n, dtype=object))
    assert score is None or 0.0 <= score <= 1.0


SEGMENT_PARAMS = [
    ({}, None),
    ({}, None),
    ({"margin_db": 3.0, "min_pause": 0.0, "pad": 0.0}, None),
    ({"max_duration": 0.05, "min_duration": 0.0}, None),
    ({"margin_db": float("nan")}, "margin_db"),
    ({"pad": -0.1}, "pad"),
    ({"max_duration": float("inf")}, "max_duration"),
    ({"min_pause": "0.1"}, "min_pause"),
]


def _check_segments(segments, n):
    assert segments.dtype == np.int64 and segments.ndim == 2 and segments.shape[1] == 2
    assert ((0 <= segments) & (segments <= n)).all()
    assert (segments[:, 0] < segments[:, 1]).all()
    assert (np.diff(segments[:, 0]) >= 0).all()  # in order of time


@SETTINGS
@given(data=st.data())
def test_speech_segments_accept_or_clearly_refuse(data):
    y, bad = data.draw(any_waveform())
    if data.draw(st.booleans()) and bad is None and np.ndim(y) == 1 and len(y) >= 300:
        y = np.array(y, dtype=np.float32)  # a loud burst in the middle, often
        y[len(y) // 3 : len(y) // 2] += np.sin(np.arange(len(y) // 2 - len(y) // 3) / 3)
    sr = data.draw(st.sampled_from([8000, 8000, 16000, 0, -1, float("nan"), 10]))
    params, bad_param = _draw_param(data, SEGMENT_PARAMS)
    segments, error = _outcome(speech_segments, y, sr=sr, **params)
    if bad is not None:
        _refused(error, bad, f"speech_segments({y!r})")
        return
    if not (sr >= 100):
        _refused(error, "sr", f"sr={sr}")
        return
    if bad_param is not None:
        _refused(error, bad_param, f"speech_segments(**{params})")
        return
    assert error is None, f"a valid recording was refused: {error}"
    _check_segments(segments, len(y))


@pytest.fixture(scope="module")
def tiny_spotter():
    """A fitted clip classifier with a background class, trained for two epochs."""
    rng = np.random.RandomState(0)
    t = np.arange(2000) / 8000
    clips = [0.01 * rng.randn(2000).astype(np.float32) for _ in range(6)]
    clips += [np.sin(2 * np.pi * f * t).astype(np.float32) for f in (300, 320, 1200, 1250)]
    labels = ["_bg_"] * 6 + ["low", "low", "high", "high"]
    model = make_pipeline(MFCC(n_mfcc=4, n_mels=8), LSTMClassifier(hidden_size=2, max_iter=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # stops after 2 epochs: on purpose
        return model.fit(clips, labels)


@SETTINGS
@given(data=st.data())
def test_spot_keywords_accepts_or_clearly_refuses(tiny_spotter, data):
    y, bad = data.draw(any_waveform())
    threshold = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
    events, error = _outcome(
        spot_keywords, tiny_spotter, y, sr=8000, background_label="_bg_", threshold=threshold
    )
    if bad is not None:
        _refused(error, bad, f"spot_keywords({y!r})")
        return
    assert error is None, f"a valid recording was refused: {error}"
    duration = len(np.atleast_1d(y)) / 8000
    for e in events:
        assert set(e) == {"start", "end", "label", "score"}
        assert 0 <= e["start"] < e["end"] <= duration + 1e-3
        assert e["label"] in {"low", "high"} and threshold <= e["score"] <= 1


@SETTINGS
@given(data=st.data())
def test_load_audio_accepts_or_clearly_refuses(audio_files, data):
    source, bad = data.draw(any_waveform())
    if data.draw(st.booleans()):
        source = np.stack([source, source]) if np.ndim(source) == 1 else source
    if np.ndim(source) == 2 and bad == "shape|dimension":
        bad = None  # two dimensions are channels, averaged
    out, error = _outcome(load_audio, source, sr=8000, orig_sr=16000)
    if bad is None and np.ndim(source) not in (1, 2):
        bad = "dimensions"
    if bad is None and np.shape(source)[-1] == 0:
        bad = EMPTY
    if bad is not None:
        _refused(error, bad.replace("dtype object", "numbers"), "a bad waveform")
        return
    if np.asarray(source).dtype.kind in "fO" and np.abs(_as_float(source)).max() > 3e38:
        return  # beyond float32: refused or not, as long as the output is finite (below)
    assert error is None, f"valid waveform refused: {error}"
    wave, rate = out
    assert rate == 8000 and wave.ndim == 1 and np.isfinite(wave).all()


# -- ECG --------------------------------------------------------------------------

FS = 360.0


def _synthetic_ecg(n, rng):
    """Gaussian spikes every 0.8 s with T waves: ``n`` samples at 360 Hz."""
    t = np.arange(n) / FS
    x = np.zeros(n)
    for p in np.arange(0.4, n / FS, 0.8):
        x += np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - p - 0.3) / 0.05) ** 2)
    return x + 0.01 * rng.randn(n)


@st.composite
def ecg_signals(draw, lengths=(0, 1, 2, 7, 400, 3600, 3600, 7200)):
    """One lead of any length, dtype and kind of values; ECG-like when long."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    n = draw(st.sampled_from(lengths))
    kind, dtype = draw(MOSTLY_NORMAL), draw(MOSTLY_FLOAT)
    x = _values(rng, (n,), kind, "float64")
    if kind in ("normal", "nan", "inf") and n > 100:
        x = x * 0.05 + _synthetic_ecg(n, rng)
    elif kind in ("huge", "tiny", "overflow") and n > 100:
        x = _synthetic_ecg(n, rng) * np.abs(x).max()
    if kind in ("nan", "inf") and n:
        x[rng.randint(n)] = np.nan if kind == "nan" else np.inf
    if dtype == "object":
        return x.astype(object)
    with np.errstate(all="ignore"):
        return x.astype(dtype)


FILTER_PARAMS = [
    ({}, None),
    ({}, None),
    ({}, None),
    ({"baseline": "median"}, None),
    ({"baseline": None, "lowpass": None}, None),
    ({"lowpass": 500.0}, None),
    ({"fs": 128.0, "baseline": "median", "lowpass": 40.0}, None),
    ({"fs": 1.0}, "fs"),
    ({"fs": 0.0}, "fs"),
    ({"fs": float("nan")}, "fs"),
    ({"fs": 1e12}, "fs"),
    ({"lowpass": 1e-9}, "lowpass"),
    ({"baseline": "wavelet"}, "baseline"),
]


@st.composite
def ecg_arrays(draw):
    """Signals for the filters: 1D, 2D (rows), 3D, scalar, strings, ragged."""
    fmt = draw(st.sampled_from(["1d"] * 3 + ["2d"] * 3 + ["3d", "scalar", "strings", "ragged"]))
    if fmt == "3d":
        return np.ones((2, 2, 50)), r"dim 3|dimension|shape"
    if fmt == "scalar":
        return np.float64(1.0), r"array|dimension|shape|scalar"
    if fmt == "strings":
        return np.array(["a", "b", "c"]), r"float|number|dtype"
    if fmt == "ragged":
        return [[1.0, 2.0], [3.0]], r"inhomogeneous|sequence"
    x = draw(ecg_signals())
    if fmt == "2d":
        x = np.stack([x] * draw(st.sampled_from([1, 2])))
    if _is_non_finite(x):
        return x, NON_FINITE
    if x.shape[-1] == 0:
        return x, EMPTY
    return x, None


@SETTINGS
@given(data=st.data())
def test_filter_ecg_accepts_or_clearly_refuses(data):
    x, bad = data.draw(ecg_arrays())
    params, bad_param = _draw_param(data, FILTER_PARAMS)
    params = {"fs": FS, **params}
    out, error = _outcome(filter_ecg, x, **params)
    if bad is not None or bad_param is not None:
        _refused(error, "|".join(p for p in (bad, bad_param) if p), f"filter_ecg({params})")
        return
    if np.abs(_as_float(x)).max() > 1e300:
        # Samples near the float64 limit may overflow the filter: refused, but clearly.
        if error is not None:
            _refused(error, "overflow", "huge samples")
            return
    assert error is None, f"a valid signal was refused: {error}"
    assert out.shape == np.shape(x) and out.dtype == np.float64 and np.isfinite(out).all()


@SETTINGS
@given(data=st.data())
def test_ecg_filter_transformer_accepts_or_clearly_refuses(data):
    x, bad = data.draw(ecg_arrays())
    params, bad_param = _draw_param(data, FILTER_PARAMS)
    ecg_filter = ECGFilter(**params)
    # Stateless (requires_fit is False): transform needs no fit.
    out, error = _outcome(ecg_filter.transform, np.ones((1, 400)))
    assert error is not None or np.isfinite(out).all()
    out, error = _outcome(ecg_filter.fit_transform, x)
    if bad_param is not None:
        # Parameters that are valid alone (fs=1) are checked after the data.
        _refused(error, rf"{bad_param}|{bad or bad_param}|2D|dim", f"ECGFilter({params})")
        return
    if _ndim(x) != 2:
        _refused(error, rf"2D|dim|{bad}", "signals that are not rows")
        return
    if bad is not None:
        _refused(error, bad, "bad signals")
        return
    if error is not None:
        _refused(error, "overflow", "huge samples")
        return
    assert out.shape == x.shape and out.dtype == np.float64 and np.isfinite(out).all()
    # Rows of another length than fit's are refused.
    _, error = _outcome(ecg_filter.transform, np.ones((1, x.shape[1] + 1)))
    _refused(error, "features", "rows of another length")


@SETTINGS
@given(data=st.data())
def test_detect_r_peaks_accepts_or_clearly_refuses(data):
    x, bad = data.draw(ecg_arrays())
    fs = data.draw(st.sampled_from([FS, FS, FS, 250.0, 30.0, 1e12]))
    peaks, error = _outcome(detect_r_peaks, x, fs=fs)
    if bad == EMPTY and _ndim(x) == 1:
        bad = None  # an empty lead has no beats
    if bad is not None:
        _refused(error, rf"{bad}|one lead|fs", "a bad lead")
        return
    if _ndim(x) != 1:
        _refused(error, "one lead|shape|dim", "not one lead")
        return
    if fs <= 30:
        _refused(error, "fs", f"fs={fs}")
        return
    assert error is None, f"a valid lead was refused: {error}"
    assert peaks.dtype == np.int64 and peaks.ndim == 1
    assert np.all(np.diff(peaks) > 0) and (len(peaks) == 0 or 0 <= peaks[0] <= peaks[-1] < len(x))


@st.composite
def peak_arrays(draw):
    """R-peak samples, valid (increasing whole numbers) or not, and what is wrong."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    n = draw(st.sampled_from([0, 1, 2, 5, 40, 40]))
    peaks = np.cumsum(rng.randint(1, 500, n))
    fault = draw(
        st.sampled_from(
            [None] * 8
            + ["float", "unsorted", "duplicate", "fraction", "nan", "bool"]
            + ["strings", "2d", "huge", "object"]
        )
    )
    if fault is None:
        return peaks, (r"at least two" if n < 2 else None)
    if fault == "float":
        return peaks.astype(np.float32), (r"at least two" if n < 2 else None)
    if fault == "object":
        return peaks.astype(object), r"dtype|at least two"
    if fault == "huge":
        return peaks * 10**15, (r"at least two" if n < 2 else None)
    if n < 2:
        return peaks, r"at least two"
    if fault == "unsorted":
        return peaks[::-1], r"increasing"
    if fault == "duplicate":
        return np.r_[peaks[:1], peaks], r"increasing"
    if fault == "fraction":
        return peaks + 0.5, r"whole"
    if fault == "nan":
        return np.r_[peaks, np.nan], NON_FINITE
    if fault == "bool":
        return np.ones(n, dtype=bool), r"dtype"
    if fault == "strings":
        return peaks.astype(str), r"dtype"
    return np.stack([peaks, peaks]), r"one-dimensional"


@SETTINGS
@given(data=st.data())
def test_rr_features_accept_or_clearly_refuse(data):
    peaks, bad = data.draw(peak_arrays())
    fs = data.draw(st.sampled_from([FS, FS, FS, 128.0, 1e-300, 0.0, float("nan")]))
    local = data.draw(st.sampled_from([10, 10, 10, 1, 10**9, 0]))
    features, error = _outcome(rr_features, peaks, fs=fs, local=local)
    if not fs > 0 or local < 1:
        _refused(error, "fs|local", f"fs={fs}, local={local}")
        return
    if bad is not None:
        _refused(error, bad, "bad R peaks")
        return
    if fs < 1e-200:
        if error is not None:
            _refused(error, "overflow", "intervals beyond float64")
            return
    assert error is None, f"valid R peaks refused: {error}"
    assert features.shape == (len(peaks), len(RR_FEATURES)) and features.dtype == np.float64
    assert np.isfinite(features).all()


@st.composite
def records(draw):
    """A one-lead record with its beats, and what makes it bad (if anything)."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    n = draw(st.sampled_from([0, 1, 300, 3600, 3600, 7200, 7200]))
    signal = _synthetic_ecg(n, rng)
    kind = draw(st.sampled_from(["normal"] * 6 + ["nan", "inf", "huge", "flat", "int"]))
    bad = None
    if kind in ("nan", "inf") and n:
        signal[rng.randint(n)] = np.nan if kind == "nan" else np.inf
        bad = NON_FINITE
    elif kind == "huge":
        signal *= 1e200
    elif kind == "flat":
        signal[:] = 3.0
    elif kind == "int":
        signal = (signal * 1000).astype(np.int64)
    samples = np.round(np.arange(0.4, n / FS, 0.8) * FS).astype(np.int64)
    if draw(st.integers(0, 3)) == 3:
        samples = samples[: draw(st.sampled_from([0, 1, 2]))]
    symbols = np.array(["N", "V", "A", "+"])[rng.randint(0, 4, len(samples))]
    fs = draw(st.sampled_from([FS] * 6 + [0.0, float("nan")]))
    problems = [bad] if bad else []
    if not fs > 0:
        problems.append("fs")
    if n == 0:
        problems.append(EMPTY + "|non-empty")
    bad = "|".join(problems) or None  # the message names one of them
    record = Record("r", signal, fs, "MLII", samples, symbols, np.zeros((0, 2), dtype=np.int64))
    return record, bad


@SETTINGS
@given(data=st.data())
def test_extract_beats_accepts_or_clearly_refuses(data):
    record, bad = data.draw(records())
    r_peaks = data.draw(st.sampled_from(["reference"] * 3 + ["detect"] * 2 + ["given", "outside"]))
    if r_peaks == "given":
        r_peaks = record.beat_samples[::2]
    elif r_peaks == "outside":
        r_peaks = np.array([-5, 10])
    params = data.draw(
        st.sampled_from(
            [
                {},
                {},
                {"relative": False, "rr": ["pre_rr", "irregularity"], "baseline": "median"},
                {"before": 0.1, "after": 0.2, "sampling_rate": 360.0, "lowpass": None},
                {"before": 1e9},
                {"rr": ["no_such_feature"]},
            ]
        )
    )
    beats, error = _outcome(extract_beats, record, r_peaks=r_peaks, **params)
    if bad is not None:
        _refused(error, bad, "a bad record")
        return
    if error is not None:
        # What else may be refused, and how it must be said.
        reasons = [
            r"at least two",  # fewer than two beats
            r"longer than the record",  # the window, or a record of a sample
            r"must lie within",  # given R peaks outside the signal
            r"Unknown RR feature",
        ]
        _refused(error, "|".join(reasons), "a record")
        return
    assert isinstance(r_peaks, str) or r_peaks.min() >= 0
    n_beats = len(beats.samples)
    rr = params.get("rr", (None,) * 5)
    assert beats.X.shape == (n_beats, beats.n_signals * beats.n_steps + len(rr))
    assert beats.X.dtype == np.float32 and np.isfinite(beats.X).all()
    assert len(beats.y) == len(beats.groups) == n_beats >= 2
    assert np.all(np.diff(beats.samples) > 0)


@SETTINGS
@given(data=st.data())
def test_beat_sequences_accept_or_clearly_refuse(data):
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.sampled_from([0, 1, 3, 50]))
    n_columns = data.draw(st.sampled_from([0, 1, 4, 7, 7, 131, 131]))
    kind, dtype = data.draw(MOSTLY_NORMAL), data.draw(MOSTLY_FLOAT)
    X = _values(rng, (n, n_columns), kind, dtype)
    n_signals = data.draw(st.sampled_from([1, 1, 2, 2, 0]))
    n_static = data.draw(st.sampled_from([0, 1, 1, 5, 5, -1]))
    static = data.draw(st.sampled_from(["repeat", "repeat", "drop", "tile"]))
    sequences = BeatSequences(n_signals=n_signals, n_static=n_static, static=static)
    _, error = _outcome(sequences.transform, np.ones((1, 7)))
    _refused(error, "not fitted", "transform before fit")
    out, error = _outcome(sequences.fit_transform, X)
    if n_signals < 1 or n_static < 0 or static == "tile":
        _refused(error, "n_signals|n_static|static", "bad parameters")
        return
    if n == 0 or n_columns == 0:
        _refused(error, EMPTY, "an empty table")
        return
    if _is_non_finite(X) or (dtype in ("float64", "object") and kind == "overflow"):
        # float64 and objects keep 1e300; float32 (preserved) would overflow it.
        if _is_non_finite(X):
            _refused(error, NON_FINITE, "a table with NaN or infinity")
            return
    signal_columns = n_columns - n_static
    if signal_columns <= 0 or signal_columns % n_signals:
        _refused(error, "n_static|n_signals", "columns that do not divide into signals")
        return
    assert error is None, f"a valid table was refused: {error}"
    n_steps = signal_columns // n_signals
    channels = n_signals + (n_static if static == "repeat" else 0)
    assert out.shape == (n, n_steps, channels)
    # float32 is kept; anything else becomes float64 (ints, objects: no overflow).
    assert out.dtype == (np.float32 if X.dtype == np.float32 else np.float64)
    assert np.isfinite(out).all()
    # Tables of another width are refused, naming the feature count.
    _, error = _outcome(sequences.transform, np.ones((2, n_columns + 1)))
    _refused(error, "features", "a table of another width")


# -- forecasting --------------------------------------------------------------------


@st.composite
def series(draw, lengths=(300, 40, 300, 40, 0, 1, 2, 5)):
    """One series of any length, dtype and kind of values; a sine when normal."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    n = draw(st.sampled_from(lengths))
    kind, dtype = draw(MOSTLY_NORMAL), draw(MOSTLY_FLOAT)
    y = _values(rng, (n,), kind, "float64")
    if kind == "normal":
        y = 10 + np.sin(np.arange(n) / 3) + 0.1 * y
    if dtype == "object":
        return y.astype(object)
    with np.errstate(all="ignore"):
        return y.astype(dtype)


@st.composite
def series_inputs(draw):
    """``(y, X, bad)``: one series or several, with or without exogenous features."""
    fmt = draw(st.sampled_from(["one"] * 4 + ["several"] * 2 + ["exog"] * 2 + ["2d", "strings"]))
    fmt = "exog_bad" if draw(st.integers(0, 9)) == 9 else fmt
    if fmt == "2d":
        return np.ones((30, 2)), None, r"1D|shape"
    if fmt == "strings":
        return np.array(["a"] * 30), None, r"float|number|dtype"
    y = draw(series())
    if fmt == "several":
        ys = [y, draw(series())]
        bad = next((NON_FINITE for s in ys if _is_non_finite(s)), None)
        if bad is None and any(len(s) == 0 for s in ys):
            bad = EMPTY
        return ys, None, bad
    bad = NON_FINITE if _is_non_finite(y) else (EMPTY if len(y) == 0 else None)
    if fmt == "exog":
        return y, np.cos(np.arange(len(y)))[:, None] * np.ones((1, 2)), bad
    if fmt == "exog_bad":
        return y, np.full((len(y) + 1, 2), np.nan), rf"{bad}|rows|NaN" if bad else r"rows|NaN"
    return y, None, bad


@SETTINGS
@given(data=st.data())
def test_make_windows_accepts_or_clearly_refuses(data):
    y, X, bad = data.draw(series_inputs())
    lookback = data.draw(st.sampled_from([1, 3, 3, 24, 0, 10**12, 2.5]))
    horizon = data.draw(st.sampled_from([1, 1, 2, 2, 0]))
    stride = data.draw(st.sampled_from([1, 1, 3, 3, 0]))
    out, error = _outcome(make_windows, y, X, lookback=lookback, horizon=horizon, stride=stride)
    bad_params = [
        name
        for name, v in (("lookback", lookback), ("horizon", horizon), ("stride", stride))
        if not (isinstance(v, int) and v >= 1)
    ]
    if bad_params:
        _refused(error, "|".join(bad_params), "bad parameters")
        return
    if isinstance(y, list):
        assert error is not None, "several series were accepted as one"
        return
    if bad is not None and bad != EMPTY:
        _refused(error, bad, "a bad series")
        return
    assert error is None, f"a valid series was refused: {error}"
    inputs, targets_, origins = out
    y = np.asarray(y, dtype=np.float64)
    n_features = 1 + (0 if X is None else X.shape[1])
    assert inputs.shape == (len(origins), lookback, n_features)
    assert targets_.shape == (len(origins), horizon)
    assert np.isfinite(inputs).all() and np.isfinite(targets_).all()
    assert len(origins) == len(range(lookback, len(y) - horizon + 1, stride))
    for k, o in enumerate(origins):
        np.testing.assert_array_equal(inputs[k, :, 0], y[o - lookback : o])
        np.testing.assert_array_equal(targets_[k], y[o : o + horizon])


WINDOW_PARAMS = [
    ({"lookback": 3, "horizon": 2}, None),
    ({"lookback": 3, "horizon": 2}, None),
    ({"lookback": 4, "horizon": 2, "season": 3, "window_level": 2, "patch_size": 2}, None),
    ({"lookback": 4, "horizon": 2, "season": 3, "window_level": 2, "patch_size": 2}, None),
    ({"lookback": 24, "horizon": 1, "stride": 5}, None),
    ({"lookback": 3, "window_level": 5}, "window_level"),
    ({"lookback": 3, "patch_size": 2}, "patch_size"),
    ({"lookback": 0}, "lookback"),
    ({"season": 0}, "season"),
]


def _too_short(ys, need):
    return any(len(s) < need for s in (ys if isinstance(ys, list) else [ys]))


@SETTINGS
@given(data=st.data())
def test_sliding_windows_accept_or_clearly_refuse(data):
    y, X, bad = data.draw(series_inputs())
    params, bad_param = _draw_param(data, WINDOW_PARAMS)
    windows = SlidingWindows(**params)
    _, error = _outcome(windows.transform, y)
    _refused(error, "not fitted", "transform before fit")
    _, error = _outcome(windows.fit, y, X)
    if bad_param is not None:
        _refused(error, bad_param, f"SlidingWindows({params})")
        return
    if bad is not None:
        _refused(error, bad, "a bad series")
        return
    need = windows._min_history + windows.horizon
    if _too_short(y, need):
        _refused(error, "too short", "series too short for one window")
        return
    assert error is None, f"valid series refused: {error}"
    (inputs, targets_), error = _outcome(windows.transform, y, X)
    assert error is None, f"transform refused the series fit accepted: {error}"
    n_features = 1 + (0 if X is None else X.shape[1])
    steps = windows.lookback // windows.patch_size
    assert inputs.shape[1:] == (steps, windows.patch_size * n_features)
    assert targets_.shape == (len(inputs), windows.horizon)
    assert np.isfinite(inputs).all() and np.isfinite(targets_).all()
    last, error = _outcome(windows.transform_last, y, X)
    assert error is None and np.isfinite(last).all()
    n_series = len(y) if isinstance(y, list) else 1
    assert last.shape == (n_series, steps, windows.patch_size * n_features)
    # Forecasts from made-up predictions, then from bad ones.
    forecast, error = _outcome(windows.inverse_transform, np.zeros((n_series, 1)), y)
    assert error is None, f"inverse_transform refused: {error}"
    for f in forecast if isinstance(y, list) else [forecast]:
        assert len(f) == 1 and np.isfinite(f).all()
    bad_pred = data.draw(
        st.sampled_from(
            [np.full((n_series, 1), np.nan), np.zeros((n_series, windows.horizon + 1)), "x"]
        )
    )
    _, error = _outcome(windows.inverse_transform, bad_pred, y)
    _refused(error, rf"y_pred|{NON_FINITE}|float", "bad predictions")


@TRAINING_SETTINGS
@given(data=st.data())
def test_lstm_forecaster_accepts_or_clearly_refuses(data):
    y, X, bad = data.draw(series_inputs())
    forecaster = LSTMForecaster(
        LSTMRegressor(hidden_size=2, max_iter=2, n_iter_no_change=1, random_state=0),
        lookback=data.draw(st.sampled_from([3, 6])),
        horizon=data.draw(st.sampled_from([1, 3])),
        validation_fraction=data.draw(st.sampled_from([None, 0.3])),
    )
    _, error = _outcome(forecaster.predict)
    _refused(error, "not fitted", "predict before fit")
    _, error = _outcome(forecaster.fit, y, X)
    if bad is not None:
        _refused(error, bad, "a bad series")
        return
    if _too_short(y, forecaster.lookback + forecaster.horizon):
        _refused(error, "too short", "series too short for one window")
        return
    if error is not None:
        _refused(error, "validation|training window", "too few windows to validate on")
        return
    forecast, error = _outcome(forecaster.predict)
    assert error is None, f"predict refused: {error}"
    for f in forecast if isinstance(y, list) else [forecast]:
        assert len(f) == forecaster.horizon and np.isfinite(f).all(), "non-finite forecast"
    _, error = _outcome(forecaster.predict, forecaster.horizon + 1)
    _refused(error, "horizon", "a horizon beyond the fitted one")


def test_speech_segments_split_long_speech_without_limit():
    # 60 s of steady tone after 10 s of near-silence (the noise floor), with
    # settings that split it into parts of a few frames.
    y = np.zeros(70 * 8000, dtype=np.float32)
    y[:] = 1e-4 * np.random.RandomState(0).randn(len(y))
    y[10 * 8000 :] += np.sin(np.arange(60 * 8000) / 3)
    for min_duration in (0.0, 0.01):
        segments = speech_segments(
            y, sr=8000, max_duration=0.0, min_duration=min_duration, pad=0.0, min_pause=0.0
        )
        _check_segments(segments, len(y))
        assert len(segments) > 1000
        assert (np.diff(segments, axis=0)[:, 0] > 0).all()
