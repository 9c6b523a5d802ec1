"""ArrhythmiaClassifier: the arrhythmia model as a library estimator, on real records."""

import shutil

import numpy as np
import pytest
from _ctrl_c import CtrlCAt
from _ecg_data import MITDB, requires_mitdb
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_predict

import sklstm
from sklstm.ecg import ArrhythmiaClassifier, RecordError, read_beats
from sklstm.ecg._classifier import _undersample

pytestmark = requires_mitdb

TINY = dict(hidden_size=4, max_iter=1)


@pytest.fixture(scope="module")
def beats():
    """Beats of two records: 119 (ventricular bigeminy) and 220 (atrial premature beats)."""
    return ArrhythmiaClassifier().load_beats(MITDB, ["119", "220"])


def test_it_reads_the_tables_read_beats_gives_with_its_settings(beats):
    clf = ArrhythmiaClassifier(lead=0, sampling_rate=60.0, relative=False, rr=("pre_local",))
    table = clf.read_beats(MITDB / "119")
    expected = read_beats(MITDB / "119", lead=0, sampling_rate=60.0, relative=False,
                          rr=["pre_local"])  # fmt: skip
    np.testing.assert_array_equal(table.X, expected.X)
    assert table.X.shape[1] == 43 + 1
    assert beats.records == ["119", "220"] and beats.X.shape == (len(beats.y), 131)


def test_fit_predict_and_undersampling(beats):
    clf = ArrhythmiaClassifier(**TINY).fit(beats.X, beats.y)
    assert list(clf.classes_) == ["N", "S", "V"]  # 119 and 220 have no F beat, Q never
    assert clf.n_features_in_ == 131 and clf.n_steps_ == 63 and not clf.interrupted_
    proba = clf.predict_proba(beats.X[:40])
    assert proba.shape == (40, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(beats.X[:40]), clf.classes_[proba.argmax(axis=1)])
    # The rarer a class, the heavier its beats (square root of inverse frequency).
    weights = clf.estimators_[0].steps[-1][1].class_weight
    n_s, n_v = np.sum(beats.y == "S"), np.sum(beats.y == "V")  # every one of them kept
    assert weights["S"] / weights["V"] == pytest.approx(np.sqrt(n_v / n_s))
    assert weights["S"] > weights["V"] > weights["N"] > 0


def test_undersampling_draws_the_same_n_beats_whichever_classes_are_kept():
    y = np.array(list("NNNNSSVVFFQQ") * 50)
    rng = np.random.RandomState
    full = _undersample(y, fraction=0.5, rng=rng(0), classes=("N", "S", "V", "F"))
    no_f = _undersample(y, fraction=0.5, rng=rng(0), classes=("N", "S", "V"))
    assert set(y[full]) == {"N", "S", "V", "F"} and set(y[no_f]) == {"N", "S", "V"}
    np.testing.assert_array_equal(full[y[full] == "N"], no_f[y[no_f] == "N"])


def test_train_classes_leave_beats_out_and_static_head_feeds_the_output_layer():
    beats = read_beats(MITDB / "208")  # 373 of DS1's 415 F beats
    clf = ArrhythmiaClassifier(train_classes=("N", "S", "V"), static="head", **TINY)
    clf.fit(beats.X, beats.y)
    (member,) = clf.estimators_
    network = member.steps[-1][1]
    assert list(clf.classes_) == ["N", "S", "V"] and "F" in beats.y
    assert network.n_static_features == 5 and member.steps[0][1].static == "repeat"
    assert network.module_.head.in_features == 4 + 5
    assert set(clf.predict(beats.X[:200])) <= {"N", "S", "V"}


def test_an_ensemble_averages_its_members_and_saves_as_data(beats, tmp_path):
    clf = ArrhythmiaClassifier(n_estimators=2, **TINY).fit(beats.X, beats.y)
    first, second = (m.predict_proba(beats.X[:50]) for m in clf.estimators_)
    assert not np.allclose(first, second)  # other seeds, other N beats and weights
    np.testing.assert_allclose(clf.predict_proba(beats.X[:50]), (first + second) / 2)
    # The first member is the single model of the same seed.
    single = ArrhythmiaClassifier(**TINY).fit(beats.X, beats.y)
    np.testing.assert_array_equal(single.predict_proba(beats.X[:50]), first)
    # Callbacks belong to training: the file keeps none.
    clf.set_params(callbacks=[CtrlCAt("epoch_begin", 1)])
    with pytest.warns(UserWarning, match="callbacks are training-time objects"):
        sklstm.save(clf, tmp_path / "m.sklstm")
    loaded = sklstm.load(tmp_path / "m.sklstm")
    assert loaded.get_params() == clf.set_params(callbacks=None).get_params()
    np.testing.assert_array_equal(loaded.predict_proba(beats.X), clf.predict_proba(beats.X))


def test_a_seed_gives_the_same_model_and_none_draws_one(beats):
    proba = [ArrhythmiaClassifier(**TINY).fit(beats.X, beats.y).predict_proba(beats.X[:30])]
    proba.append(ArrhythmiaClassifier(**TINY).fit(beats.X, beats.y).predict_proba(beats.X[:30]))
    np.testing.assert_array_equal(*proba)
    drawn = [
        ArrhythmiaClassifier(random_state=None, **TINY).fit(beats.X, beats.y) for _ in range(2)
    ]
    assert not np.array_equal(*(m.predict_proba(beats.X[:30]) for m in drawn))
    # Seeds near the top of numpy's range still give every member a valid one.
    top = ArrhythmiaClassifier(random_state=2**32 - 1, n_estimators=2, **TINY)
    assert len(top.fit(beats.X, beats.y).estimators_) == 2


def test_grid_search_and_cross_validation_grouped_by_record(beats):
    more = ArrhythmiaClassifier().load_beats(MITDB, ["119", "209", "220"])
    scorer = make_scorer(f1_score, average="macro", labels=["N", "S", "V"], zero_division=0)
    search = GridSearchCV(
        ArrhythmiaClassifier(**TINY),
        {"hidden_size": [2, 4]},
        scoring=scorer,
        cv=GroupKFold(3),
        error_score="raise",
    ).fit(more.X, more.y, groups=more.groups)
    assert search.best_params_["hidden_size"] in (2, 4)
    assert set(search.predict(beats.X[:10])) <= {"N", "S", "V"}
    pred = cross_val_predict(
        clone(search.best_estimator_), more.X, more.y, groups=more.groups, cv=GroupKFold(3)
    )
    assert pred.shape == more.y.shape and set(pred) <= {"N", "S", "V"}


def test_annotate_classifies_the_beats_of_a_record_file(beats, tmp_path):
    clf = ArrhythmiaClassifier(**TINY).fit(beats.X, beats.y)
    result = clf.annotate(MITDB / "119")
    np.testing.assert_array_equal(result.pred, clf.predict(beats.X[beats.groups == "119"]))
    detected = clf.annotate(MITDB / "119", detect=True)
    assert abs(len(detected.samples) - len(result.samples)) <= 3
    assert set(detected.pred) <= set(clf.classes_)
    # A record without annotations: detect its beats, or be told to.
    for ext in ("hea", "dat"):
        shutil.copy(MITDB / f"119.{ext}", tmp_path / f"119.{ext}")
    with pytest.raises(RecordError, match=r"119.atr.*Without annotations, use detect=True\."):
        clf.annotate(tmp_path / "119")
    for annotator in ("atr", None):
        alone = clf.annotate(tmp_path / "119", detect=True, annotator=annotator)
        np.testing.assert_array_equal(alone.pred, detected.pred)
        assert set(alone.y) == {""}


def test_bad_input_is_refused_with_a_message_that_names_it(beats):
    clf = ArrhythmiaClassifier(**TINY)
    with pytest.raises(NotFittedError):
        clf.predict(beats.X[:2])
    with pytest.raises(NotFittedError):
        clf.annotate(MITDB / "119")
    with pytest.raises(
        ValueError, match=r"beats of 1 of the classes \['S'\] \(\['S'\]\): a class"
    ):
        ArrhythmiaClassifier(train_classes=("S",), **TINY).fit(beats.X, beats.y)
    assert not hasattr(clf, "classes_")
    with pytest.raises(ValueError, match="X has 130 columns, but a beat table of this model's"):
        clf.fit(beats.X[:, :-1], beats.y)
    other = ArrhythmiaClassifier(sampling_rate=60.0, **TINY)
    with pytest.raises(ValueError, match=r"sampling_rate=60.*has 91: read the beats with"):
        other.fit(beats.X, beats.y)
    with pytest.raises(ValueError, match=r"label\(s\) \[''\] that are not AAMI .* detected"):
        clf.fit(beats.X, np.where(beats.y == "S", "", beats.y))
    with pytest.raises(ValueError, match=r"label\(s\) \['A'\] that are not AAMI classes.*\]\.$"):
        clf.fit(beats.X, np.where(beats.y == "S", "A", beats.y))
    with pytest.raises(ValueError, match=r"rr has unknown name\(s\) \['qrs'\]"):
        ArrhythmiaClassifier(rr=("pre_local", "qrs")).fit(beats.X, beats.y)
    with pytest.raises(ValueError, match="train_classes has unknown"):
        ArrhythmiaClassifier(train_classes=("N", "Q")).fit(beats.X, beats.y)
    with pytest.raises(ValueError, match="'n_fraction' parameter"):
        ArrhythmiaClassifier(n_fraction=0).fit(beats.X, beats.y)
    fitted = clf.fit(beats.X, beats.y)
    with pytest.raises(
        ValueError, match="X has 2 features, but ArrhythmiaClassifier is expecting 131"
    ):
        fitted.predict(np.zeros((2, 131)).T)
    with pytest.raises(ValueError, match="resume and checkpoints are for a single model"):
        ArrhythmiaClassifier(n_estimators=2).fit(beats.X, beats.y, resume=fitted)
    # Window settings changed after fit: the fitted width still applies.
    fitted.set_params(sampling_rate=60.0)
    assert fitted.predict(beats.X[:3]).shape == (3,)


def test_ctrl_c_keeps_the_members_fitted_so_far(beats):
    ctrl_c = CtrlCAt("epoch_begin", 2)
    clf = ArrhythmiaClassifier(n_estimators=3, hidden_size=4, max_iter=3, callbacks=[ctrl_c])
    with pytest.warns(UserWarning, match="Training was interrupted after 1 of 3 epochs"):
        clf.fit(beats.X, beats.y)
    assert ctrl_c.pressed_ and clf.interrupted_
    (member,) = clf.estimators_
    assert member.steps[-1][1].n_iter_ == 1 and member.steps[-1][1].callbacks is None
    assert clf.predict(beats.X[:5]).shape == (5,)
