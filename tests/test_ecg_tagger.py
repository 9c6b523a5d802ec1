"""ArrhythmiaTagger: every beat of a record labelled in the context of its neighbours."""

import copy
import pickle

import numpy as np
import pytest
from _ctrl_c import CtrlCAt
from _ecg_data import MITDB, requires_mitdb
from _model_files import rewrite_without
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_predict

import sklstm
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint
from sklstm.ecg import ArrhythmiaClassifier, ArrhythmiaTagger, match_beats
from sklstm.ecg._beats import RR_FEATURES
from sklstm.ecg._classifier import _class_weights
from sklstm.ecg._rr_model import run_context, run_irregularity
from sklstm.ecg._tagger import _edge_weights, _runs, _stretches

# The networks' mechanics are tested without the RR model and the atrial fibrillation
# rule; their own tests add them (the rule's: test_ecg_fibrillation.py).
TINY = dict(
    hidden_size=4, num_layers=1, max_iter=1, n_beats=16, rr_model=None, af_irregularity=None
)


def test_runs_follow_the_beat_index_and_stretches_overlap_by_half():
    # Two records (0..4 and 0..2), and a subset of a third with a gap (7, 8, then 11).
    index = np.array([0, 1, 2, 3, 4, 0, 1, 2, 7, 8, 11], dtype=np.float32)
    assert _runs(index) == [slice(0, 5), slice(5, 8), slice(8, 10), slice(10, 11)]
    stretches = _stretches([slice(0, 10), slice(10, 13)], 4)
    assert [s.tolist() for s in stretches] == [
        [0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9], [10, 11, 12],
    ]  # fmt: skip
    # The last stretch ends at the run's end even when the stride does not reach it.
    assert [s.tolist() for s in _stretches([slice(0, 5)], 4)] == [[0, 1, 2, 3], [1, 2, 3, 4]]
    np.testing.assert_array_equal(_edge_weights(5), [1, 2, 3, 2, 1])


@pytest.fixture(scope="module")
def beats():
    """Beats of two records: 119 (ventricular bigeminy) and 220 (atrial premature beats)."""
    return ArrhythmiaTagger().load_beats(MITDB, ["119", "220"])


@requires_mitdb
def test_its_table_is_the_classifiers_plus_each_beats_place_in_its_record(beats):
    table = ArrhythmiaClassifier().load_beats(MITDB, ["119", "220"])
    np.testing.assert_array_equal(beats.X[:, :-1], table.X)
    assert beats.feature_names == [*table.feature_names, "beat_index"]
    for name in ("119", "220"):
        index = beats.X[beats.groups == name, -1]
        np.testing.assert_array_equal(index, np.arange(len(index)))
    one = ArrhythmiaTagger().read_beats(MITDB / "220")
    np.testing.assert_array_equal(one.X, beats.X[beats.groups == "220"])


@requires_mitdb
def test_fit_predict_and_every_record_read_alone(beats):
    y = beats.y.copy()
    y[[10, 20]] = "Q"  # context, never trained on nor predicted
    tagger = ArrhythmiaTagger(**TINY).fit(beats.X, y)
    assert list(tagger.classes_) == ["N", "S", "V"] and tagger.n_steps_ == 63
    assert tagger.n_features_in_ == 132 and not tagger.interrupted_
    net = tagger.estimator_[-1]
    assert net.bidirectional and net.class_weight["Q"] == 0.0
    assert net.class_weight["S"] / net.class_weight["V"] == pytest.approx(
        np.sum(y == "V") / np.sum(y == "S")
    )  # weight_power=1: inverse frequencies
    proba = tagger.predict_proba(beats.X)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(tagger.predict(beats.X), tagger.classes_[proba.argmax(axis=1)])
    # A record's beats get the same probabilities alone as next to another record.
    for name in ("119", "220"):
        rows = beats.groups == name
        np.testing.assert_allclose(tagger.predict_proba(beats.X[rows]), proba[rows], atol=1e-6)
    # A record shorter than a stretch is read once, as the network reads it.
    short = beats.X[:10]
    direct = tagger.estimator_.predict_proba([tagger._beat_features(short)])[0]
    np.testing.assert_allclose(tagger.predict_proba(short), direct[:, [0, 2, 3]] / direct[
        :, [0, 2, 3]].sum(axis=1, keepdims=True), rtol=1e-6)  # fmt: skip


@requires_mitdb
def test_grid_search_cross_validation_and_saving(beats, tmp_path):
    more = ArrhythmiaTagger().load_beats(MITDB, ["119", "209", "220"])
    search = GridSearchCV(
        ArrhythmiaTagger(**{**TINY, "rr_model": "logistic"}),
        {"hidden_size": [2, 4]},
        cv=GroupKFold(3),
        error_score="raise",
    ).fit(more.X, more.y, groups=more.groups)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_.estimator_[-1].hidden_size == search.best_params_["hidden_size"]
    pred = cross_val_predict(
        clone(search.best_estimator_), more.X, more.y, groups=more.groups, cv=GroupKFold(3)
    )
    assert pred.shape == more.y.shape and set(pred) <= {"N", "S", "V"}
    tagger = search.best_estimator_
    sklstm.save(tagger, tmp_path / "t.sklstm")
    loaded = sklstm.load(tmp_path / "t.sklstm")
    np.testing.assert_array_equal(loaded.predict_proba(beats.X), tagger.predict_proba(beats.X))


@requires_mitdb
def test_annotate_labels_a_record_file(beats):
    tagger = ArrhythmiaTagger(**TINY).fit(beats.X, beats.y)
    result = tagger.annotate(MITDB / "119")
    np.testing.assert_array_equal(result.pred, tagger.predict(beats.X[beats.groups == "119"]))
    detected = tagger.annotate(MITDB / "119", detect=True)
    np.testing.assert_array_equal(detected.X[:, -1], np.arange(len(detected.samples)))
    # The beats found are the reference's, and mostly get the classes they get there.
    ref, det = match_beats(result.samples, detected.samples, tolerance=0.15 * 360)
    assert len(det) > 0.99 * len(result.samples)
    assert np.mean(detected.pred[det] == result.pred[ref]) > 0.9


@requires_mitdb
def test_bad_input_is_refused_with_a_message_that_names_it(beats):
    tagger = ArrhythmiaTagger(**TINY)
    with pytest.raises(NotFittedError):
        tagger.predict(beats.X[:2])
    table = ArrhythmiaClassifier().load_beats(MITDB, ["119"])
    with pytest.raises(ValueError, match="X has 131 columns, but a beat table of this model's"):
        tagger.fit(table.X, table.y)
    with pytest.raises(ValueError, match=r"label\(s\) \[''\] that are not AAMI .* detected"):
        tagger.fit(beats.X, np.where(beats.y == "S", "", beats.y))
    with pytest.raises(ValueError, match=r"unweighted has unknown name\(s\) \['X'\]"):
        ArrhythmiaTagger(unweighted=("X",)).fit(beats.X, beats.y)
    with pytest.raises(ValueError, match="'n_beats' parameter"):
        ArrhythmiaTagger(n_beats=1).fit(beats.X, beats.y)
    assert not hasattr(tagger, "classes_")


@requires_mitdb
def test_ctrl_c_keeps_the_network_at_its_last_epoch(beats):
    ctrl_c = CtrlCAt("epoch_begin", 2)
    tagger = ArrhythmiaTagger(
        **{**TINY, "max_iter": 3, "rr_model": "logistic"}, callbacks=[ctrl_c]
    )
    with pytest.warns(UserWarning, match="Training was interrupted after 1 of 3 epochs"):
        tagger.fit(beats.X, beats.y)
    assert ctrl_c.pressed_ and tagger.interrupted_
    assert tagger.rr_model_ is not None  # fitted before the network: kept
    assert tagger.estimator_[-1].callbacks is None
    assert tagger.predict(beats.X[:5]).shape == (5,)


@requires_mitdb
def test_an_interrupted_fit_resumes_from_its_checkpoint_to_the_uninterrupted_model(
    beats, tmp_path
):
    settings = {**TINY, "max_iter": 4}
    whole = ArrhythmiaTagger(**settings).fit(beats.X, beats.y)
    path = tmp_path / "tagger.ckpt"
    ctrl_c = CtrlCAt("epoch_begin", 3)
    first = ArrhythmiaTagger(**settings, callbacks=[ResumableCheckpoint(path), ctrl_c])
    with pytest.warns(UserWarning, match="Training was interrupted after 2 of 4 epochs"):
        first.fit(beats.X, beats.y)
    assert first.interrupted_
    resumed = ArrhythmiaTagger(**settings).fit(beats.X, beats.y, resume=load_checkpoint(path))
    assert not resumed.interrupted_ and resumed.estimator_[-1].n_iter_ == 4
    np.testing.assert_allclose(
        resumed.predict_proba(beats.X), whole.predict_proba(beats.X), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"other training settings: hidden_size=4 \(now 8\)"):
        ArrhythmiaTagger(**{**settings, "hidden_size": 8}).fit(
            beats.X, beats.y, resume=load_checkpoint(path)
        )


@requires_mitdb
def test_a_beat_model_is_fitted_alongside_and_its_probabilities_averaged(beats, tmp_path):
    beat = ArrhythmiaClassifier(hidden_size=4, max_iter=1, sampling_rate=60.0, random_state=5)
    pair = ArrhythmiaTagger(**TINY, beat_model=beat).fit(beats.X, beats.y)
    # The clone reads the tagger's beat table: its settings are the tagger's.
    assert pair.beat_model_ is not beat and pair.beat_model_.sampling_rate == 90.0
    assert pair.beat_model_.random_state == 0  # the tagger's
    assert beat.sampling_rate == 60.0 and not hasattr(beat, "classes_")
    alone = ArrhythmiaTagger(**TINY).fit(beats.X, beats.y)
    single = clone(beat).set_params(sampling_rate=90.0, random_state=0)
    single.fit(beats.X[:, :-1], beats.y)
    np.testing.assert_allclose(
        pair.predict_proba(beats.X),
        (alone.predict_proba(beats.X) + single.predict_proba(beats.X[:, :-1])) / 2,
        rtol=1e-6,
    )
    sklstm.save(pair, tmp_path / "pair.sklstm")
    np.testing.assert_array_equal(
        sklstm.load(tmp_path / "pair.sklstm").predict(beats.X), pair.predict(beats.X)
    )
    with pytest.raises(TypeError, match="beat_model must be an ArrhythmiaClassifier or None"):
        ArrhythmiaTagger(beat_model=ArrhythmiaTagger()).fit(beats.X, beats.y)


@requires_mitdb
def test_a_pair_interrupted_in_its_beat_model_resumes_from_both_checkpoints(beats, tmp_path):
    settings = {**TINY, "max_iter": 3}
    beat = dict(hidden_size=4, max_iter=3)
    whole = ArrhythmiaTagger(**settings, beat_model=ArrhythmiaClassifier(**beat))
    whole.fit(beats.X, beats.y)
    paths = tmp_path / "tagger.ckpt", tmp_path / "beat.ckpt"
    ctrl_c = CtrlCAt("epoch_begin", 2)
    first = ArrhythmiaTagger(
        **settings,
        callbacks=[ResumableCheckpoint(paths[0])],
        beat_model=ArrhythmiaClassifier(**beat, callbacks=[ResumableCheckpoint(paths[1]), ctrl_c]),
    )
    with pytest.warns(UserWarning, match="Training was interrupted after 1 of 3 epochs"):
        first.fit(beats.X, beats.y)
    assert first.interrupted_ and first.estimator_[-1].n_iter_ == 3
    assert ctrl_c.pressed_  # the given callback itself served the beat model's fit
    resumed = ArrhythmiaTagger(**settings, beat_model=ArrhythmiaClassifier(**beat)).fit(
        beats.X,
        beats.y,
        resume=load_checkpoint(paths[0]),
        resume_beat_model=load_checkpoint(paths[1]),
    )
    assert not resumed.interrupted_
    np.testing.assert_allclose(
        resumed.predict_proba(beats.X), whole.predict_proba(beats.X), atol=1e-6
    )
    with pytest.raises(ValueError, match="resume_beat_model needs a beat_model"):
        ArrhythmiaTagger(**settings).fit(beats.X, beats.y, resume_beat_model=object())


@requires_mitdb
def test_one_beat_absent_classes_short_runs_and_a_bad_beat_model(beats):
    y = beats.y.copy()
    y[30:40] = "F"  # the tagger learns F; the beat model below does not
    beat = ArrhythmiaClassifier(hidden_size=4, max_iter=1, train_classes=("N", "S", "V"))
    pair = ArrhythmiaTagger(**TINY, beat_model=beat).fit(beats.X, y)
    assert list(pair.classes_) == ["F", "N", "S", "V"]
    assert list(pair.beat_model_.classes_) == ["N", "S", "V"]
    proba = pair.predict_proba(beats.X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    alone = ArrhythmiaTagger(**TINY).fit(beats.X, y)
    np.testing.assert_allclose(proba[:, 0], alone.predict_proba(beats.X)[:, 0] / 2, rtol=1e-6)
    # A single beat is a stretch of its own.
    assert pair.predict_proba(beats.X[:1]).shape == (1, 4)
    # Window settings changed after fit: the fitted layout still applies.
    pair.set_params(window_step=6, relative=False)
    np.testing.assert_array_equal(pair.predict_proba(beats.X), proba)
    # Shuffled rows leave no context: said, not silently trained on.
    order = np.random.RandomState(0).permutation(len(y))
    with pytest.warns(UserWarning, match=r"runs of consecutive beats, 1\.0 beats long"):
        ArrhythmiaTagger(**TINY).fit(beats.X[order], y[order])
    # A bad beat model is refused before the tagger trains.
    bad = ArrhythmiaTagger(**TINY, beat_model=ArrhythmiaClassifier(n_fraction=0.0))
    with pytest.raises(ValueError, match="'n_fraction' parameter"):
        bad.fit(beats.X, y)
    assert not hasattr(bad, "estimator_")
    with pytest.raises(ValueError, match=r"rr=\(\) leaves no RR features"):
        ArrhythmiaTagger(**TINY, rr=(), beat_model=ArrhythmiaClassifier()).fit(
            ArrhythmiaTagger(rr=()).load_beats(MITDB, ["119"]).X, beats.y[beats.groups == "119"]
        )


@requires_mitdb
def test_the_rhythms_irregularity_is_that_of_rr_features_from_two_of_its_ratios():
    table = ArrhythmiaTagger(rr=RR_FEATURES).load_beats(MITDB, ["201", "119"])
    names = table.feature_names
    column = table.X[:, names.index("irregularity")]
    X = table.X
    derived = run_irregularity(
        X[:, names.index("pre_record")], X[:, names.index("pre_local")], _runs(X[:, -1]), local=10
    )
    assert column.max() > 0.5  # 201 has atrial fibrillation: irregular indeed
    np.testing.assert_allclose(derived, column, rtol=1e-5, atol=1e-6)
    # A run that starts mid-record lacks the beats before it for its first local + 1.
    late = slice(20, 200)
    part = run_irregularity(
        X[late, names.index("pre_record")], X[late, names.index("pre_local")], [slice(0, 180)],
        local=10,
    )  # fmt: skip
    np.testing.assert_allclose(part[11:], column[31:200], rtol=1e-5, atol=1e-6)
    assert part[0] == part[1] == 0 and not np.allclose(part[2:11], column[22:31])


@requires_mitdb
def test_an_rr_model_is_fitted_by_default_and_averaged_with_the_networks(beats, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y = beats.y.copy()
    y[[10, 20]] = "Q"  # context for the irregularity, not a training label
    # The plain average of the RR model of round 5 (the context and S split have their test).
    settings = {**TINY, "rr_model": "logistic", "rr_context": None, "rr_s_weight": None}
    tagger = ArrhythmiaTagger(**settings).fit(beats.X, y)
    assert ArrhythmiaTagger().rr_model == "logistic"
    # The same regression fitted by hand: the table's five RR ratios and the irregularity,
    # standardized, Q left out, classes weighed as the tagger's loss.
    names = beats.feature_names
    rr = beats.X[:, -6:-1].astype(np.float64)
    irregularity = run_irregularity(
        rr[:, names.index("pre_record") - 126], rr[:, names.index("pre_local") - 126],
        _runs(beats.X[:, -1]), local=10,
    )  # fmt: skip
    features = np.column_stack([rr, irregularity])
    keep = y != "Q"
    weights = _class_weights(y[keep], power=1.0, unweighted=("F",))
    scaler = StandardScaler().fit(features[keep])
    regression = LogisticRegression(max_iter=1000).fit(
        scaler.transform(features[keep]), y[keep], sample_weight=[weights[c] for c in y[keep]]
    )
    by_hand = regression.predict_proba(scaler.transform(features))
    np.testing.assert_allclose(
        tagger.rr_model_.predict_proba(tagger._rr_features(beats.X, _runs(beats.X[:, -1]))),
        by_hand,
        rtol=1e-6,
    )
    alone = ArrhythmiaTagger(**TINY).fit(beats.X, y)
    assert alone.rr_model_ is None
    proba = tagger.predict_proba(beats.X)
    np.testing.assert_allclose(proba, (alone.predict_proba(beats.X) + by_hand) / 2, rtol=1e-6)
    # Alone or beside another record, a record's beats get the same probabilities.
    rows = beats.groups == "220"
    np.testing.assert_allclose(tagger.predict_proba(beats.X[rows]), proba[rows], atol=1e-6)
    # With a beat model: the three models' mean.
    beat = ArrhythmiaClassifier(hidden_size=4, max_iter=1)
    three = ArrhythmiaTagger(**settings, beat_model=beat).fit(beats.X, y)
    single = clone(beat).set_params(random_state=0).fit(beats.X[:, :-1], y)
    np.testing.assert_allclose(
        three.predict_proba(beats.X),
        (alone.predict_proba(beats.X) + single.predict_proba(beats.X[:, :-1]) + by_hand) / 3,
        rtol=1e-6,
    )
    path = tmp_path / "three.sklstm"
    sklstm.save(three, path)
    np.testing.assert_array_equal(sklstm.load(path).predict_proba(beats.X), three.predict_proba(
        beats.X))  # fmt: skip
    # A file saved before the RR model existed loads as it was trained: without one.
    sklstm.save(alone, path)
    rewrite_without(path, {"rr_model", "rr_model_", "_rr_layout_"})
    old = sklstm.load(path)
    assert old.rr_model is None
    np.testing.assert_array_equal(old.predict_proba(beats.X), alone.predict_proba(beats.X))
    # Pickles too, and a pickle of that time gets rr_model=None.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(tagger)).predict_proba(beats.X), proba)
    state = alone.__getstate__()
    del state["rr_model"], state["rr_model_"]
    restored = ArrhythmiaTagger.__new__(ArrhythmiaTagger)
    restored.__setstate__(state)
    assert restored.rr_model is None
    np.testing.assert_array_equal(restored.predict_proba(beats.X), alone.predict_proba(beats.X))
    # A file saved with a context but before rr_reference existed reads it against
    # its median, as the models of that time were trained to.
    median = ArrhythmiaTagger(**{**TINY, "rr_model": "logistic", "rr_reference": "median"})
    expected = median.fit(beats.X, y).predict_proba(beats.X)
    assert median._rr_layout_[3] == "median"
    median._rr_layout_ = median._rr_layout_[:3]
    sklstm.save(median, path)
    rewrite_without(path, {"rr_reference"})
    old = sklstm.load(path)
    assert old.rr_reference == "median"
    np.testing.assert_array_equal(old.predict_proba(beats.X), expected)
    # ... and not against the mean, which gives other probabilities.
    old._rr_layout_ = (*old._rr_layout_, "mean")
    assert not np.allclose(old.predict_proba(beats.X), expected)
    # A file saved with an RR model but before rr_context and rr_s_weight existed
    # loads as it was trained: no context, the plain average.
    tagger._rr_layout_ = tagger._rr_layout_[:2]
    sklstm.save(tagger, path)
    rewrite_without(path, {"rr_context", "rr_reference", "rr_s_weight"})
    old = sklstm.load(path)
    assert old.rr_context is None and old.rr_s_weight is None
    np.testing.assert_array_equal(old.predict_proba(beats.X), proba)


def _context_by_hand(pre, post, context, center):
    """run_context of one run, beat by beat: windows cut at the run's ends."""
    rows = []
    for i in range(len(pre)):
        lo, hi = max(i - context, 0), min(i + context + 1, len(pre))
        reference = center(pre[lo:hi])
        # Changes of the window's beats, from the run's second beat on.
        changes = np.abs(pre[max(lo, 1) : hi] - pre[max(lo, 1) - 1 : hi - 1])
        irregularity = np.median(changes) / reference if len(changes) else 0.0
        spread = np.median(np.abs(pre[lo:hi] - reference)) + 0.02 * reference
        rows.append(
            [
                np.log(pre[i] / reference),
                np.log(post[i] / reference),
                np.log(irregularity + 1e-3),
                (pre[i] - reference) / spread,
                (post[i] - reference) / spread,
            ]
        )
    return np.array(rows)


@pytest.mark.parametrize("reference, center", [("mean", np.mean), ("median", np.median)])
def test_run_context_reads_each_beat_against_the_beats_around_it(reference, center):
    rng = np.random.default_rng(0)
    pre = rng.uniform(0.6, 1.4, 203)
    post = np.append(pre[1:], pre[-1])
    runs = [slice(0, 120), slice(120, 200), slice(200, 202), slice(202, 203)]
    features = run_context(pre, post, runs, context=5, reference=reference)
    # Every beat, the ends of each run and runs of two beats and of one included;
    # a run is read alone: the beats of the other runs are not its context.
    for run in runs:
        expected = _context_by_hand(pre[run], post[run], 5, center)
        np.testing.assert_allclose(features[run], expected, rtol=1e-12, atol=1e-12)
    assert features[202, 2] == np.log(1e-3)  # one beat: no change to measure
    # Inner beats see 11 beats, the first beat of a run 6, the third 8.
    assert np.isclose(features[60, 0], np.log(pre[60] / center(pre[55:66])))
    assert np.isclose(features[0, 0], np.log(pre[0] / center(pre[0:6])))
    assert np.isclose(features[122, 0], np.log(pre[122] / center(pre[120:128])))
    # A perfectly regular rhythm: finite, the additions in place of zero spread.
    flat = run_context(np.ones(50), np.ones(50), [slice(0, 50)], context=8, reference=reference)
    np.testing.assert_allclose(flat, np.tile([0, 0, np.log(1e-3), 0, 0], (50, 1)), atol=1e-12)


def test_run_context_reads_premature_beats_as_early_even_where_they_are_the_majority():
    # A pause, then three early beats, over and over: three beats in four are early.
    pre = np.tile([1.8, 0.7, 0.75, 0.72], 40)
    post = np.append(pre[1:], pre[-1])
    run = [slice(0, len(pre))]
    early = np.flatnonzero(pre < 1)[8:-8]  # away from the run's ends
    by_mean = run_context(pre, post, run, context=32)
    assert (by_mean[early, 0] < np.log(0.8)).all()  # ~25% earlier than the heart's rate
    assert (by_mean[early, 3] < -0.5).all()  # and by more than half the spread
    # The median of such a window is the early beats' own RR: they read as on time.
    by_median = run_context(pre, post, run, context=32, reference="median")
    assert (np.abs(by_median[early, 0]) < 0.05).all()
    with pytest.raises(ValueError, match="reference must be 'mean' or 'median', got 'mode'"):
        run_context(pre, post, run, context=32, reference="mode")


@requires_mitdb
def test_the_rr_model_reads_the_context_and_has_the_larger_say_in_s_against_n(beats):
    from sklstm.ecg._rr_model import rr_model_features

    tagger = ArrhythmiaTagger(**{**TINY, "rr_model": "logistic"}).fit(beats.X, beats.y)
    assert (tagger.rr_context, tagger.rr_reference, tagger.rr_s_weight) == (32, "mean", 2 / 3)
    # Its inputs: the five ratios, the irregularity and the five context features.
    assert tagger.rr_model_[-1].n_features_in_ == 11
    runs = _runs(beats.X[:, -1])
    features = tagger._rr_features(beats.X, runs)
    names = list(RR_FEATURES[4:9])
    by_hand = rr_model_features(beats.X[:, -6:-1], names, runs, local=10, context=32)
    np.testing.assert_array_equal(features, by_hand)
    pre, post = (beats.X[:, beats.feature_names.index(n)] for n in ("pre_record", "post_record"))
    np.testing.assert_array_equal(features[:, 6:], run_context(pre, post, runs, context=32))
    # The reference is the one of the fit: set_params after it changes nothing.
    tagger.set_params(rr_reference="median")
    np.testing.assert_array_equal(tagger._rr_features(beats.X, runs), features)
    tagger.set_params(rr_reference="mean")
    # Prediction: the plain average, then N + S split between N and S, 2/3 of the
    # split from the RR model's S / (N + S), 1/3 from the networks'.
    networks_only = copy.copy(tagger)
    networks_only.rr_model_ = None
    networks = networks_only.predict_proba(beats.X)
    rr = tagger.rr_model_.predict_proba(features)
    assert list(tagger.classes_) == list(tagger.rr_model_.classes_) == ["N", "S", "V"]
    n, s = 0, 1
    expected = (networks + rr) / 2
    share = 2 / 3 * rr[:, s] / rr[:, [n, s]].sum(1) + 1 / 3 * networks[:, s] / networks[
        :, [n, s]].sum(1)  # fmt: skip
    total = expected[:, n] + expected[:, s]
    expected[:, n], expected[:, s] = total * (1 - share), total * share
    proba = tagger.predict_proba(beats.X)
    np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-12)
    np.testing.assert_array_equal(proba[:, 2], (networks[:, 2] + rr[:, 2]) / 2)
    # Read at prediction: None is the plain average; 1 leaves S against N to the RR model.
    tagger.set_params(rr_s_weight=None)
    np.testing.assert_allclose(tagger.predict_proba(beats.X), (networks + rr) / 2, rtol=1e-12)
    tagger.set_params(rr_s_weight=1.0)
    proba = tagger.predict_proba(beats.X)
    np.testing.assert_allclose(proba[:, s] / proba[:, [n, s]].sum(1), rr[:, s] / rr[:, [n, s]].sum(
        1), rtol=1e-9)  # fmt: skip
    with pytest.raises(ValueError, match="'rr_s_weight' parameter"):
        ArrhythmiaTagger(rr_s_weight=1.5).fit(beats.X, beats.y)
    with pytest.raises(ValueError, match=r"rr_s_weight must be None or within \[0, 1\], got 2"):
        tagger.set_params(rr_s_weight=2).predict_proba(beats.X)
    with pytest.raises(ValueError, match="'rr_context' parameter"):
        ArrhythmiaTagger(rr_context=0).fit(beats.X, beats.y)


@requires_mitdb
def test_the_rr_model_needs_the_ratios_it_reads_the_irregularity_from(beats):
    table = ArrhythmiaTagger(rr=("pre_local", "post_local")).load_beats(MITDB, ["119"])
    y = beats.y[beats.groups == "119"]
    with pytest.raises(ValueError, match=r"lacks pre_record\. Add it to rr, or set rr_model"):
        ArrhythmiaTagger(**{**TINY, "rr_model": "logistic"}, rr=("pre_local", "post_local")).fit(
            table.X, y
        )
    # With "irregularity" among the RR features, the table's own column is read.
    rr = ("pre_local", "post_local", "irregularity")
    table = ArrhythmiaTagger(rr=rr).load_beats(MITDB, ["119"])
    with pytest.raises(
        ValueError,
        match=r"rr_context=32 reads the RR features pre_record and "
        r"post_record; rr=.* lacks pre_record and post_record\. Add them",
    ):
        ArrhythmiaTagger(**{**TINY, "rr_model": "logistic"}, rr=rr).fit(table.X, y)
    tagger = ArrhythmiaTagger(**{**TINY, "rr_model": "logistic"}, rr=rr, rr_context=None).fit(
        table.X, y
    )
    assert tagger.rr_model_[-1].n_features_in_ == 3
    with pytest.raises(ValueError, match="'rr_model' parameter"):
        ArrhythmiaTagger(rr_model="svm").fit(table.X, y)
    bad = beats.X.copy()
    bad[5, -4] = 0.0  # pre_record: a previous RR of 0 s, in no table load_beats reads
    with pytest.raises(ValueError, match="RR features of the beat table are not all finite"):
        ArrhythmiaTagger(**{**TINY, "rr_model": "logistic"}).fit(bad, beats.y)
