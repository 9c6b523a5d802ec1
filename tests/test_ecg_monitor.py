"""ArrhythmiaMonitor: beats detected and classified as the signal arrives, against annotate."""

import copy

import numpy as np
import pytest
import wfdb
from _ecg_data import MITDB, requires_mitdb
from sklearn.exceptions import NotFittedError

from sklstm.ecg import (
    ArrhythmiaClassifier,
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
def classifier():
    beats = ArrhythmiaClassifier().load_beats(MITDB, ["119", "220"])
    return ArrhythmiaClassifier(hidden_size=4, max_iter=2, random_state=0).fit(beats.X, beats.y)


@pytest.fixture(scope="module")
def stretch():
    return read_signal(MITDB / "119", stop=360 * STRETCH_SECONDS)


@pytest.fixture(scope="module")
def stretch_file(stretch, tmp_path_factory):
    """The stretch as a record file of its own, for annotate."""
    x, fs = stretch
    where = tmp_path_factory.mktemp("records")
    wfdb.wrsamp("stretch", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=x[:, None],
                fmt=["16"], write_dir=str(where))  # fmt: skip
    return where / "stretch"


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
@pytest.mark.parametrize("which", ["tagger", "classifier"])
def test_with_the_whole_signal_in_view_it_finds_what_annotate_finds(which, request, stretch_file):
    # Nothing is old enough to decide before the end: the flush reads the whole
    # signal, as annotate reads the record, and must give exactly its beats.
    model = request.getfixturevalue(which)
    x, fs = read_signal(stretch_file)  # as written (quantized to the file's resolution)
    monitor = model.monitor(
        fs=fs, lookahead=STRETCH_SECONDS, history=STRETCH_SECONDS + 32, interval=2
    )
    got = run(monitor, x, 4096)
    annotated = model.annotate(stretch_file, detect=True, annotator=None)
    assert len(annotated.samples) > 190
    np.testing.assert_array_equal(got["samples"], annotated.samples)
    np.testing.assert_array_equal(got["pred"], annotated.pred)
    np.testing.assert_allclose(got["proba"], model.predict_proba(annotated.X), rtol=1e-6)
    assert monitor.n_beats_ == len(annotated.samples) and monitor.n_samples_seen_ == len(x)
    # A second flush has nothing left to decide.
    assert len(monitor.flush().samples) == 0


@requires_mitdb
def test_live_decisions_agree_with_annotate_and_wait_the_lookahead(tagger, stretch):
    x, fs = stretch
    monitor = tagger.monitor(fs=fs, lookahead=10, history=60, interval=5)
    got = run(monitor, x, 36)  # 100 ms chunks
    samples, pred = offline(tagger, x, fs)
    assert set(pred) == {"N", "S", "V"}  # the tiny model tells the classes apart
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
def test_a_short_lookahead_loses_no_beat_of_the_first_seconds(tagger, stretch):
    # The first decisions see too little signal for any beat; the beats they
    # could not see are reported by the next ones.
    x, fs = stretch
    x = x[: 40 * 360]
    got = run(tagger.monitor(fs=fs, lookahead=0.5, history=31, interval=0.5), x, 36)
    samples, _ = offline(tagger, x, fs)
    ref, det = match_beats(samples, got["samples"], tolerance=round(0.15 * fs))
    assert len(ref) == len(samples) == len(got["samples"]) and samples[0] < 360


@requires_mitdb
def test_errors_of_the_model_are_not_taken_for_too_little_signal(tagger, stretch):
    x, fs = stretch
    broken = copy.deepcopy(tagger).set_params(rr_s_weight=2.0)
    monitor = broken.monitor(fs=fs, lookahead=5, history=40, interval=5)
    with pytest.raises(ValueError, match="rr_s_weight must be None or within"):
        monitor.update(x[: 20 * 360])


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
        (
            dict(fs=360, lookahead=10, history=45, interval=10),
            r"history must be at least lookahead \+ interval \+ 30 s \(50\)",
        ),
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
