"""Causal arrhythmia models: each beat read from the signal up to its window's end alone."""

import copy

import numpy as np
import pytest
from _ecg_data import MITDB, requires_mitdb
from _model_files import rewrite_without
from sklearn.base import clone

import sklstm
from sklstm.ecg import (
    CAUSAL_BEATS,
    PAST_RR_RATIOS,
    ArrhythmiaClassifier,
    ArrhythmiaMonitor,
    ArrhythmiaTagger,
    ECGFilter,
    Record,
    extract_beats,
    fibrillation_evidence,
    filter_ecg,
    match_beats,
    read_record,
    read_signal,
    rr_features,
)
from sklstm.ecg._beats import _trailing_medians
from sklstm.ecg._rr_model import run_context

TINY = dict(hidden_size=4, num_layers=1, max_iter=1, n_beats=16)
CAUSAL = dict(causal=True, rr=PAST_RR_RATIOS)


def _cut(record, stop):
    """The record as if it had ended at sample ``stop``."""
    kept = record.beat_samples < stop
    beats = record.beat_samples[kept], record.beat_classes[kept]
    return Record(record.name, record.signal[:stop], record.fs, record.lead, *beats,
                  record.vf_episodes)  # fmt: skip


def test_causal_filters_never_change_a_sample_as_more_signal_arrives():
    rng = np.random.default_rng(0)
    fs = 360
    t = np.arange(20 * fs) / fs
    x = np.sin(2 * np.pi * 0.2 * t) + 0.3 * rng.normal(size=t.size)
    for baseline in ("highpass", "median"):
        whole = filter_ecg(x, fs=fs, baseline=baseline, lowpass=None, causal=True)
        part = filter_ecg(x[: 7 * fs], fs=fs, baseline=baseline, lowpass=None, causal=True)
        np.testing.assert_allclose(part, whole[: 7 * fs], rtol=0, atol=1e-12)
    # The forward high-pass still removes the drift, from its steady state on.
    pure = np.sin(2 * np.pi * 0.2 * t)
    out = filter_ecg(pure, fs=fs, lowpass=None, causal=True)
    assert np.abs(out[5 * fs :]).max() < 0.2
    # Rows are filtered one by one, as a single signal would be; so does the transformer.
    rows = filter_ecg(np.vstack([x, 2 * x]), fs=fs, causal=True)
    np.testing.assert_allclose(rows[1], filter_ecg(2 * x, fs=fs, causal=True), rtol=1e-12)
    np.testing.assert_array_equal(
        ECGFilter(fs=fs, causal=True).fit_transform(np.vstack([x, 2 * x])), rows
    )


def test_trailing_statistics_are_those_of_the_beats_up_to_each_one():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(CAUSAL_BEATS + 60, 3))
    values[::5] = values[2]  # ties
    expected = [np.median(values[max(0, i + 1 - CAUSAL_BEATS) : i + 1], axis=0)
                for i in range(len(values))]  # fmt: skip
    np.testing.assert_array_equal(_trailing_medians(values.copy()), expected)
    peaks = np.cumsum(rng.integers(200, 400, size=CAUSAL_BEATS + 30))
    rr = rr_features(peaks, fs=360, causal=True)
    pre = np.concatenate([[peaks[1] - peaks[0]], np.diff(peaks)]) / 360
    record_rr = [pre[max(0, i + 1 - CAUSAL_BEATS) : i + 1].mean() for i in range(len(pre))]
    np.testing.assert_allclose(rr[:, 3], record_rr, rtol=1e-12)
    np.testing.assert_allclose(rr[:, 6], pre / record_rr, rtol=1e-12)
    # Without causal, the record's mean.
    np.testing.assert_allclose(rr_features(peaks, fs=360)[:, 3], np.diff(peaks).mean() / 360)


def test_causal_rhythm_context_and_fibrillation_evidence_read_only_earlier_beats():
    rng = np.random.default_rng(2)
    pre = rng.uniform(0.6, 1.4, 90)
    windows = rng.normal(size=(90, 20))
    for cut in (1, 2, 5, 40):
        head = run_context(pre[:cut], None, [slice(0, cut)], context=8, causal=True)
        whole = run_context(pre, None, [slice(0, 90)], context=8, causal=True)
        np.testing.assert_allclose(head, whole[:cut], rtol=1e-12)
        assert np.isfinite(head).all() and head.shape == (cut, 3)
        head = fibrillation_evidence(pre[:cut], windows[:cut], [slice(0, cut)], p_steps=10,
                                     causal=True)  # fmt: skip
        whole = fibrillation_evidence(pre, windows, [slice(0, 90)], p_steps=10, causal=True)
        for a, b in zip(head, whole):
            np.testing.assert_allclose(a, b[:cut], rtol=1e-12)
    # The window is the 2 * context + 1 beats up to the beat: its mean is the reference.
    level = np.exp(np.log(pre[50]) - whole_context(pre)[50, 0])
    np.testing.assert_allclose(level, pre[34:51].mean(), rtol=1e-12)


def whole_context(pre):
    return run_context(pre, None, [slice(0, len(pre))], context=8, causal=True)


def test_reading_the_next_beat_is_refused_with_a_message():
    x = np.zeros(3600)
    samples = np.arange(180, 3600, 288)
    record = Record("demo", x, 360.0, "MLII", samples, np.array(["N"] * len(samples)),
                    np.zeros((0, 2), dtype=int))  # fmt: skip
    with pytest.raises(ValueError, match=r"next beat in \['post_local'.*rr=\('pre_local'"):
        extract_beats(record, causal=True)
    assert extract_beats(record, **CAUSAL).X.shape == (len(samples), 2 * 63 + 2)
    for model in (ArrhythmiaTagger(causal=True), ArrhythmiaClassifier(causal=True)):
        with pytest.raises(ValueError, match="causal=True gives each beat its row before"):
            model.fit(np.zeros((4, 130)), ["N", "V", "N", "V"])


@pytest.fixture(scope="module")
def causal_tagger():
    model = ArrhythmiaTagger(**TINY, **CAUSAL, random_state=0)
    beats = model.load_beats(MITDB, ["119", "220"])
    return model.fit(beats.X, beats.y)


@requires_mitdb
def test_a_beats_class_never_changes_once_its_window_has_arrived(causal_tagger):
    model = causal_tagger
    assert not model.estimator_[-1].bidirectional
    record = read_record(MITDB / "208")
    params = model.extract_params()
    whole = model._table(extract_beats(record, r_peaks="detect", **params))
    proba = model.predict_proba(whole.X)
    assert len(whole.samples) > CAUSAL_BEATS + 100
    for beat in (3, 60, CAUSAL_BEATS + 50):
        # The record ends 0.5 s after the R peak: the window (0.45 s) and a little.
        cut = model._table(
            extract_beats(_cut(record, whole.samples[beat] + 180), r_peaks="detect", **params)
        )
        np.testing.assert_array_equal(cut.samples, whole.samples[: len(cut.samples)])
        assert len(cut.samples) >= beat + 1
        # The zero-phase low-pass reads 30 ms ahead: the window's last steps move a hair.
        np.testing.assert_allclose(cut.X[: beat + 1], whole.X[: beat + 1], rtol=0, atol=2e-3)
        np.testing.assert_allclose(
            model.predict_proba(cut.X)[: beat + 1], proba[: beat + 1], rtol=0, atol=2e-3
        )
    # Given the same rows, every part of the model reads only the rows before.
    for stop in (1, 17, 400):
        np.testing.assert_allclose(
            model.predict_proba(whole.X[:stop]), proba[:stop], rtol=1e-6, atol=1e-7
        )


@requires_mitdb
def test_the_monitor_of_a_causal_model_decides_within_a_second_as_annotate_does(
    causal_tagger,
):
    model = causal_tagger
    x, fs = read_signal(MITDB / "119", stop=360 * 120)
    monitor = model.monitor(fs=fs)
    assert (monitor.lookahead, monitor.history, monitor.interval) == (0.5, 300.0, 0.5)
    parts = [monitor.update(x[k : k + 36]) for k in range(0, len(x), 36)]  # 100 ms chunks
    parts.append(monitor.flush())
    got = {key: np.concatenate([p[key] for p in parts]) for key in ("samples", "pred", "decided")}
    none = np.zeros(0, dtype=np.int64)
    record = Record("119", x, fs, "MLII", none, none.astype("<U1"), np.zeros((0, 2), int))
    beats = model._table(extract_beats(record, r_peaks="detect", **model.extract_params()))
    pred = model.predict(beats.X)
    assert set(pred) >= {"N", "V"}
    ref, det = match_beats(beats.samples, got["samples"], tolerance=round(0.15 * fs))
    assert len(ref) == len(beats.samples) == len(got["samples"])
    np.testing.assert_array_equal(got["pred"][det], pred[ref])
    live = got["decided"] < len(x)
    latency = (got["decided"][live] - got["samples"][live]) / fs
    assert live.sum() > 120 and latency.min() >= 0.5
    # All within a second, but the first beat, which waits for a second one (an RR).
    assert latency[0] > 1.0 and latency[1:].max() <= 1.0


@requires_mitdb
def test_the_monitor_waits_for_the_whole_window_of_longer_windows(causal_tagger):
    longer = copy.deepcopy(causal_tagger).set_params(after=0.6)
    assert longer.monitor(fs=360).lookahead == 0.65
    with pytest.raises(ValueError, match=r"at least 0.65 s \(the model's windows reach after=0.6"):
        longer.monitor(fs=360, lookahead=0.5)
    # Models that read the whole record keep theirs.
    plain = copy.deepcopy(causal_tagger).set_params(causal=False)
    assert plain.monitor(fs=360).lookahead == 20.0
    # Built directly, a monitor takes the same defaults as from the model's monitor().
    for model in (causal_tagger, plain, longer):
        direct, built = ArrhythmiaMonitor(model, fs=360), model.monitor(fs=360)
        settings = ("lookahead", "history", "interval")
        assert [getattr(direct, k) for k in settings] == [getattr(built, k) for k in settings]
    assert ArrhythmiaMonitor(causal_tagger, fs=360, interval=0.25).interval == 0.25


@requires_mitdb
def test_causal_settings_pass_to_the_beat_model_and_survive_saving(causal_tagger, tmp_path):
    beat_model = ArrhythmiaClassifier(hidden_size=4, max_iter=1)
    model = clone(causal_tagger).set_params(beat_model=beat_model)
    beats = model.load_beats(MITDB, ["119"])
    model.fit(beats.X, beats.y)
    assert model.beat_model_.causal and model.beat_model_.rr == PAST_RR_RATIOS
    path = tmp_path / "causal.sklstm"
    sklstm.save(model, path)
    loaded = sklstm.load(path)
    assert loaded.causal
    np.testing.assert_array_equal(loaded.predict_proba(beats.X), model.predict_proba(beats.X))
    # Files saved before the parameter existed load as the models of that time were.
    plain = ArrhythmiaTagger(**TINY, random_state=0).fit(*_beats_xy(MITDB, "119"))
    sklstm.save(plain, path)
    rewrite_without(path, {"causal"})
    old = sklstm.load(path)
    assert old.causal is False and old.monitor(fs=360).lookahead == 20.0


def _beats_xy(data, name):
    beats = ArrhythmiaTagger().load_beats(data, [name])
    return beats.X, beats.y
