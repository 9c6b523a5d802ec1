"""Atrial fibrillation: its evidence beat by beat, and the tagger's rule that reads it."""

import copy

import numpy as np
import pytest
from _ecg_data import MITDB, requires_mitdb
from _model_files import rewrite_without

import sklstm
from sklstm.ecg import ArrhythmiaTagger, fibrillation_evidence
from sklstm.ecg._fibrillation import p_segment_steps
from sklstm.ecg._tagger import _runs

TINY = dict(hidden_size=4, num_layers=1, max_iter=1, n_beats=16)


def _evidence_by_hand(pre, segments, context):
    """fibrillation_evidence of one run, beat by beat: windows cut at the run's ends."""
    segments = segments - segments.mean(axis=1, keepdims=True)
    irregularity, coherence = [], []
    for i in range(len(pre)):
        lo, hi = max(i - context, 0), min(i + context + 1, len(pre))
        medians = []
        for lag in (1, 2, 3):
            # Changes at the window's beats that have a beat ``lag`` before them in the run.
            first = max(lo, lag)
            if first < hi:
                medians.append(np.median(np.abs(pre[first:hi] - pre[first - lag : hi - lag])))
        irregularity.append(min(medians) / np.median(pre[lo:hi]) if medians else 0.0)
        mean = segments[lo:hi].mean(axis=0)
        coherence.append((mean**2).sum() / (segments[lo:hi] ** 2).sum(axis=1).mean())
    return np.array(irregularity), np.array(coherence)


def test_the_evidence_is_that_of_each_beats_window_computed_by_hand():
    rng = np.random.default_rng(0)
    pre = rng.uniform(0.6, 1.4, 206)
    windows = rng.normal(size=(206, 30))
    runs = [slice(0, 120), slice(120, 200), slice(200, 202), slice(202, 203), slice(203, 206)]
    irregularity, coherence = fibrillation_evidence(pre, windows, runs, p_steps=12, context=5)
    # Every beat, the ends of each run, runs of three, two and one beats; each run alone.
    for run in runs[:2] + runs[3:]:
        by_hand = _evidence_by_hand(pre[run], windows[run, :12], 5)
        np.testing.assert_allclose(irregularity[run], by_hand[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(coherence[run], by_hand[1], rtol=1e-12)
    # A run of two beats: one change (lag 1), two segments; one beat: no change, its own P wave.
    assert irregularity[200] == abs(pre[201] - pre[200]) / np.median(pre[200:202])
    two = windows[200:202, :12] - windows[200:202, :12].mean(axis=1, keepdims=True)
    assert np.isclose(coherence[201], (two.mean(0) ** 2).sum() / (two**2).sum(1).mean())
    assert (irregularity[202], coherence[202]) == (0.0, 1.0)
    # Only the first p_steps steps of a window count.
    changed = windows.copy()
    changed[:, 12:] = 0
    again = fibrillation_evidence(pre, changed, runs, p_steps=12, context=5)
    np.testing.assert_array_equal(again[1], coherence)


def test_ectopic_patterns_read_as_regular_and_random_intervals_as_irregular():
    rng = np.random.default_rng(1)
    rhythms = {
        "steady": np.full(60, 0.9),
        "bigeminy": np.tile([0.6, 1.2], 30),
        "trigeminy": np.tile([0.8, 0.8, 1.4], 20),
        "isolated premature beats": np.where(np.arange(60) % 9 == 4, 0.6, 0.9)
        + np.where(np.arange(60) % 9 == 5, 0.3, 0.0),
        "fibrillation": rng.uniform(0.5, 1.3, 60),
    }
    t = np.linspace(0, 1, 16)
    p_wave = np.exp(-((t - 0.5) ** 2) / 0.02)
    waves = np.tile(p_wave, (60, 1)) + 0.05 * rng.normal(size=(60, 16))
    noise = rng.normal(size=(60, 16))
    for name, pre in rhythms.items():
        irregularity, _ = fibrillation_evidence(pre, waves, [slice(0, 60)], p_steps=16)
        if name == "fibrillation":
            assert irregularity[10:50].min() > 0.15, name
        else:
            assert irregularity.max() < 1e-12, name
    pre = rhythms["steady"]
    _, coherence = fibrillation_evidence(pre, waves, [slice(0, 60)], p_steps=16)
    assert coherence.min() > 0.95
    _, coherence = fibrillation_evidence(pre, noise, [slice(0, 60)], p_steps=16)
    assert coherence.max() < 0.15  # about 1 / 33 for 33 unrelated segments


def test_the_p_wave_segment_ends_before_the_qrs_and_short_windows_have_none():
    # The default window: 22 steps before the R peak at 90 Hz, the last 6 (70 ms) left out.
    assert p_segment_steps(before=0.25, sampling_rate=90.0) == 16
    assert p_segment_steps(before=0.25, sampling_rate=360.0) == 90 - 25
    assert p_segment_steps(before=0.1, sampling_rate=90.0) == 0
    # Windows from 0.15 s before the R peak hold at least 80 ms of it at any rate.
    for rate in (90, 100, 128, 200, 250, 256, 360, 500, 1000):
        assert p_segment_steps(before=0.15, sampling_rate=rate) >= 0.075 * rate, rate
        assert p_segment_steps(before=0.12, sampling_rate=rate) == 0, rate


def test_bad_input_to_the_evidence_is_refused_with_a_message_that_names_it():
    ones = np.ones(3), np.ones((3, 5)), [slice(0, 3)]
    with pytest.raises(ValueError, match=r"p_steps must be an integer within \[2, 5\], got 6"):
        fibrillation_evidence(*ones, p_steps=6)
    with pytest.raises(ValueError, match=r"p_steps must be an integer within .*, got 2.0"):
        fibrillation_evidence(*ones, p_steps=2.0)
    with pytest.raises(ValueError, match=r"context must be an integer at least 3, got 2"):
        fibrillation_evidence(*ones, p_steps=4, context=2)
    with pytest.raises(ValueError, match=r"one row per beat; got shapes \(5,\) and \(3, 5\)"):
        fibrillation_evidence(np.ones(5), *ones[1:], p_steps=4)
    with pytest.raises(ValueError, match=r"runs must be slices \(start, stop\) within the 3"):
        fibrillation_evidence(*ones[:2], [slice(0, 4)], p_steps=4)


@pytest.fixture(scope="module")
def fibrillation():
    """Record 201: stretches of atrial fibrillation between others of sinus rhythm."""
    import wfdb

    beats = ArrhythmiaTagger().read_beats(MITDB / "201")
    notes = wfdb.rdann(str(MITDB / "201"), "atr")
    rhythm = np.full(len(beats.samples), "(N", dtype=object)
    for sample, note in zip(notes.sample, notes.aux_note):
        if note.startswith("("):
            rhythm[beats.samples >= sample] = note.rstrip("\x00")
    beats.in_fibrillation = np.isin(rhythm, ["(AFIB", "(AFL"])
    return beats


def _flagged(beats, irregularity=0.1, coherence=0.2):
    pre = beats.X[:, beats.feature_names.index("pre_record")]
    evidence = fibrillation_evidence(pre, beats.X[:, :63], _runs(beats.X[:, -1]), p_steps=16)
    return (evidence[0] > irregularity) & (evidence[1] < coherence)


@requires_mitdb
def test_the_default_thresholds_find_a_records_atrial_fibrillation(fibrillation):
    flagged = _flagged(fibrillation)
    af = fibrillation.in_fibrillation
    assert af.sum() > 800
    # Measured: 97.3% of the 911 beats of atrial fibrillation, 10.2% of the others
    # (next to its stretches, and in runs of ventricular beats).
    assert flagged[af].mean() > 0.95
    assert flagged[~af].mean() < 0.15


@requires_mitdb
def test_the_tagger_gives_the_s_probability_of_fibrillation_to_n(fibrillation, tmp_path):
    X, y = fibrillation.X, fibrillation.y
    tagger = ArrhythmiaTagger(**TINY).fit(X, y)
    assert (tagger.af_irregularity, tagger.af_coherence, tagger._p_steps_) == (0.1, 0.2, 16)
    proba = tagger.predict_proba(X)
    without = copy.copy(tagger).set_params(af_irregularity=None).predict_proba(X)
    n, s = np.searchsorted(tagger.classes_, ["N", "S"])
    flagged = _flagged(fibrillation)
    assert flagged.sum() > 800
    # Exactly: N + S to N where the evidence says fibrillation, nothing else anywhere.
    expected = without.copy()
    expected[flagged, n] += expected[flagged, s]
    expected[flagged, s] = 0
    np.testing.assert_array_equal(proba, expected)
    assert (without[flagged, s] > 0).all()
    # Read at prediction: other thresholds take no refit.
    tagger.set_params(af_irregularity=0.2, af_coherence=0.1)
    stricter = _flagged(fibrillation, 0.2, 0.1)
    assert 0 < stricter.sum() < flagged.sum()
    np.testing.assert_array_equal(tagger.predict_proba(X)[:, s] == 0, stricter)
    # Alone or beside another record (here a second copy: its beat index starts again),
    # a record's beats get the same probabilities: no window reaches across records.
    tagger.set_params(af_irregularity=0.1, af_coherence=0.2)
    np.testing.assert_allclose(tagger.predict_proba(np.vstack([X[:700], X])), np.vstack(
        [tagger.predict_proba(X[:700]), proba]), rtol=1e-6, atol=1e-9)  # fmt: skip
    # A file saved before the rule existed loads as it was trained: without it.
    path = tmp_path / "old.sklstm"
    sklstm.save(tagger, path)
    np.testing.assert_array_equal(sklstm.load(path).predict_proba(X), proba)
    rewrite_without(path, {"af_irregularity", "af_coherence"})
    old = sklstm.load(path)
    assert (old.af_irregularity, old.af_coherence) == (None, 0.2)
    np.testing.assert_array_equal(old.predict_proba(X), without)
    # Pickles of that time too.
    state = tagger.__getstate__()
    del state["af_irregularity"], state["af_coherence"], state["_p_steps_"]
    restored = ArrhythmiaTagger.__new__(ArrhythmiaTagger)
    restored.__setstate__(state)
    assert restored.af_irregularity is None
    np.testing.assert_array_equal(restored.predict_proba(X), without)
    # Set on such a model, the rule reads the windows of its settings.
    np.testing.assert_array_equal(restored.set_params(af_irregularity=0.1).predict_proba(X), proba)


@requires_mitdb
def test_the_rule_acts_without_an_rr_model_at_any_rate_and_not_without_s(fibrillation):
    X, y = fibrillation.X, fibrillation.y
    networks = ArrhythmiaTagger(**TINY, rr_model=None).fit(X, y)
    proba = networks.predict_proba(X)
    without = copy.copy(networks).set_params(af_irregularity=None).predict_proba(X)
    flagged = _flagged(fibrillation)
    n, s = np.searchsorted(networks.classes_, ["N", "S"])
    np.testing.assert_array_equal(proba[:, s] == 0, flagged)
    np.testing.assert_allclose(proba[flagged, n], without[flagged][:, [n, s]].sum(1), rtol=1e-12)
    # Windows read at 128 Hz: the segment of their first 23 steps (250 to 70 ms before R).
    table = ArrhythmiaTagger(sampling_rate=128.0).read_beats(MITDB / "201")
    at_128 = ArrhythmiaTagger(**TINY, sampling_rate=128.0, rr_model=None).fit(table.X, y)
    assert at_128._p_steps_ == 23
    pre = table.X[:, table.feature_names.index("pre_record")]
    evidence = fibrillation_evidence(pre, table.X[:, : at_128.n_steps_], _runs(table.X[:, -1]),
                                     p_steps=23)  # fmt: skip
    flagged = (evidence[0] > 0.1) & (evidence[1] < 0.2)
    assert flagged[fibrillation.in_fibrillation].mean() > 0.9
    np.testing.assert_array_equal(at_128.predict_proba(table.X)[:, s] == 0, flagged)
    # Without S among the classes there is nothing to move.
    no_s = np.where(y == "S", "N", y)
    model = ArrhythmiaTagger(**TINY).fit(X, no_s)
    assert "S" not in model.classes_
    np.testing.assert_array_equal(
        model.predict_proba(X), copy.copy(model).set_params(af_irregularity=None).predict_proba(X)
    )


@requires_mitdb
def test_the_rule_refuses_what_it_cannot_read(fibrillation):
    X, y = fibrillation.X, fibrillation.y
    rr = ("pre_local", "post_local")
    table = ArrhythmiaTagger(rr=rr).read_beats(MITDB / "201")
    with pytest.raises(ValueError, match=r"reads the RR feature 'pre_record', which rr lacks"):
        ArrhythmiaTagger(**TINY, rr=rr, rr_model=None).fit(table.X, y)
    model = ArrhythmiaTagger(**TINY, rr=rr, rr_model=None, af_irregularity=None).fit(table.X, y)
    with pytest.raises(ValueError, match=r"reads the RR feature 'pre_record', which rr lacks"):
        model.set_params(af_irregularity=0.1).predict_proba(table.X)
    short = ArrhythmiaTagger(before=0.1).read_beats(MITDB / "201")
    with pytest.raises(ValueError, match=r"the rule needs before >= 0.15 s, or af_irregularity"):
        ArrhythmiaTagger(**TINY, before=0.1).fit(short.X, y)
    with pytest.raises(ValueError, match="'af_coherence' parameter"):
        ArrhythmiaTagger(**TINY, af_coherence=1.5).fit(X, y)
    tagger = ArrhythmiaTagger(**TINY, rr_model=None).fit(X, y)
    with pytest.raises(ValueError, match=r"af_irregularity must be None or >= 0, got -1"):
        tagger.set_params(af_irregularity=-1).predict_proba(X)
    with pytest.raises(ValueError, match=r"af_coherence must be within \[0, 1\], got 2"):
        tagger.set_params(af_irregularity=0.1, af_coherence=2).predict_proba(X)
