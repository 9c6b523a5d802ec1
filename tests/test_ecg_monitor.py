"""ArrhythmiaMonitor: beats detected and classified as the signal arrives, against annotate."""

import numpy as np
import pytest
from _ecg_data import MITDB, requires_mitdb
from sklearn.exceptions import NotFittedError

from sklstm.ecg import (
    ArrhythmiaMonitor,
    ArrhythmiaTagger,
    Record,
    extract_beats,
    match_beats,
    read_signal,
)

TINY = dict(hidden_size=4, num_layers=1, max_iter=1, n_beats=16, af_irregularity=None)
#: Three minutes of record 119 (ventricular bigeminy): long enough for the monitor's
#: history to fill, short enough for a test.
STRETCH_SECONDS = 180


@pytest.fixture(scope="module")
def tagger():
    beats = ArrhythmiaTagger().load_beats(MITDB, ["119", "220"])
    return ArrhythmiaTagger(**TINY, random_state=0).fit(beats.X, beats.y)


@pytest.fixture(scope="module")
def stretch():
    return read_signal(MITDB / "119", stop=360 * STRETCH_SECONDS)


def offline(model, x, fs):
    """What annotate(detect=True) finds in a record holding just this signal."""
    none = np.zeros(0, dtype=np.int64)
    record = Record("119", x, fs, "MLII", none, none.astype("<U1"), np.zeros((0, 2), int))
    beats = model._table(extract_beats(record, r_peaks="detect", **model.extract_params()))
    return beats.samples, model.predict(beats.X)


def run(monitor, x, chunk):
    parts = [monitor.update(x[k : k + chunk]) for k in range(0, len(x), chunk)]
    parts.append(monitor.flush())
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


@requires_mitdb
def test_with_the_whole_signal_in_view_it_finds_what_annotate_finds(tagger, stretch):
    # Nothing is old enough to decide before the end: the flush reads the whole
    # signal, as annotate reads a record, and must give exactly its beats.
    x, fs = stretch
    monitor = tagger.monitor(fs=fs, lookahead=STRETCH_SECONDS, history=STRETCH_SECONDS + 30)
    got = run(monitor, x, 4096)
    samples, pred = offline(tagger, x, fs)
    np.testing.assert_array_equal(got["samples"], samples)
    np.testing.assert_array_equal(got["pred"], pred)
    assert monitor.n_beats_ == len(samples) and monitor.n_samples_seen_ == len(x)
    np.testing.assert_allclose(got["proba"].sum(axis=1), 1.0, rtol=1e-6)


@requires_mitdb
def test_live_decisions_agree_with_annotate_and_wait_the_lookahead(tagger, stretch):
    x, fs = stretch
    monitor = tagger.monitor(fs=fs, lookahead=10, history=60, interval=5)
    got = run(monitor, x, 36)  # 100 ms chunks
    samples, pred = offline(tagger, x, fs)
    ref, det = match_beats(samples, got["samples"], tolerance=round(0.15 * fs))
    assert len(ref) >= 0.99 * len(samples) and len(got["samples"]) <= len(samples) + 2
    assert np.mean(pred[ref] == got["pred"][det]) >= 0.95
    assert np.all(np.diff(got["samples"]) >= round(0.2 * fs))  # each beat once
    live = got["decided"] < len(x)  # the others were decided by the flush
    latency = (got["decided"][live] - got["samples"][live]) / fs
    assert live.sum() > 150
    assert latency.min() > 10 and latency.max() <= 15  # lookahead, plus up to the interval
    np.testing.assert_array_equal(got["decided"][~live], len(x))
    # Only the history is kept, however long the signal.
    assert len(monitor._buffer) == 60 * fs


@requires_mitdb
def test_the_beats_do_not_depend_on_the_chunks_and_reset_starts_over(tagger, stretch):
    x, fs = stretch
    x = x[: 90 * 360]
    monitor = tagger.monitor(fs=fs, lookahead=5, history=40, interval=5)
    first = run(monitor, x, 5000)
    monitor.reset()
    assert monitor.n_samples_seen_ == 0 and monitor.n_beats_ == 0
    again = run(monitor, x, 777)
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])
    assert len(first["samples"]) > 80
    # An empty chunk decides nothing and costs nothing.
    empty = monitor.update([])
    assert len(empty.samples) == 0 and empty.proba.shape == (0, len(tagger.classes_))


@requires_mitdb
def test_bad_settings_and_samples_are_refused_with_a_message(tagger):
    for bad, match in [
        (dict(fs=20), "fs must be a finite number above 30"),
        (dict(fs=360, lookahead=0.4), "lookahead must be at least 0.5 s"),
        (dict(fs=360, lookahead=10, history=30), r"history must be at least lookahead \+ 30"),
        (dict(fs=360, lookahead=2, interval=3), "interval must be at most lookahead"),
        (dict(fs="360"), "fs must be a finite number"),
    ]:
        with pytest.raises(ValueError, match=match):
            tagger.monitor(**bad)
    monitor = tagger.monitor(fs=360)
    with pytest.raises(ValueError, match="chunk must be 1D"):
        monitor.update(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        monitor.update([0.0, np.nan])
    assert monitor.n_samples_seen_ == 0  # nothing of a refused chunk was kept
    with pytest.raises(NotFittedError):
        ArrhythmiaTagger().monitor(fs=360)
    with pytest.raises(NotFittedError):
        ArrhythmiaMonitor(ArrhythmiaTagger(), fs=360)
