"""KeywordSpotter: the keyword-spotting model as a library estimator, on real FSDD clips."""

import copy

import numpy as np
import pytest
from _data import DATA
from _model_files import rewrite_without
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold

import sklstm
from sklstm import LSTMClassifier
from sklstm.audio import (
    KeywordSpotter,
    change_speed,
    event_scores,
    load_audio,
    make_stream,
    scan_keywords,
)

RECORDINGS = DATA / "fsdd" / "recordings"
pytestmark = pytest.mark.skipif(not RECORDINGS.is_dir(), reason="FSDD not under $SKLSTM_DATA")

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
TINY = dict(max_iter=12, hidden_size=32, n_copies=1)


def _clips(keywords, indices):
    paths = [RECORDINGS / f"{k}_{s}_{i}.wav" for k in keywords for s in SPEAKERS for i in indices]
    labels = np.array([p.name.split("_")[0] for p in paths])
    groups = np.array([p.name.split("_")[1] for p in paths])
    return paths, labels, groups


@pytest.fixture(scope="module")
def fitted():
    paths, labels, _ = _clips("012", range(10, 16))
    return KeywordSpotter(**TINY).fit(paths, labels), paths, labels


def test_it_fits_on_files_and_predicts_files_or_waveforms(fitted):
    spotter, paths, labels = fitted
    assert list(spotter.classes_) == ["0", "1", "2", "_background_"]
    assert spotter.n_background_ == 20 and spotter.n_iter_ == 12 and not spotter.interrupted_
    assert [name for name, _ in spotter.pipeline_.steps] == [
        "mfcc", "sequencescaler", "lstmclassifier",
    ]  # fmt: skip
    test = [RECORDINGS / f"{k}_{s}_30.wav" for k in "012" for s in SPEAKERS]
    waves = [load_audio(p, sr=8000)[0] for p in test]
    proba = spotter.predict_proba(test)
    assert proba.shape == (18, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(spotter.predict_proba(waves), proba)
    truth = np.array([p.name[0] for p in test])
    assert np.mean(spotter.predict(test) == truth) >= 0.6  # 12 epochs on 108 clips
    assert spotter.score(test, truth) == np.mean(spotter.predict(test) == truth)


def test_a_seed_gives_the_same_model_whatever_form_the_clips_take(fitted):
    spotter, paths, labels = fitted
    waves = [load_audio(p, sr=8000)[0] for p in paths]
    again = KeywordSpotter(**TINY).fit(waves, labels)
    X = [load_audio(RECORDINGS / "1_theo_40.wav", sr=8000)[0]]
    np.testing.assert_array_equal(again.predict_proba(X), spotter.predict_proba(X))
    other = KeywordSpotter(**{**TINY, "random_state": 1}).fit(waves, labels)
    assert not np.array_equal(other.predict_proba(X), spotter.predict_proba(X))


def test_babble_and_reverberation_change_the_training_set_only_when_asked(fitted):
    spotter, paths, labels = fitted
    waves = [load_audio(p, sr=8000)[0] for p in paths[:24]]
    X = [load_audio(RECORDINGS / "1_theo_40.wav", sr=8000)[0]]
    small = dict(max_iter=1, hidden_size=8, n_copies=1)
    plain = KeywordSpotter(**small).fit(waves, labels[:24]).predict_proba(X)
    silent = KeywordSpotter(**small, babble=0, reverb_prob=0.0).fit(waves, labels[:24])
    np.testing.assert_array_equal(silent.predict_proba(X), plain)
    for extra in (dict(babble=2), dict(reverb_prob=1.0)):
        other = KeywordSpotter(**small, **extra).fit(waves, labels[:24])
        assert not np.array_equal(other.predict_proba(X), plain)


@pytest.mark.parametrize("detector", ["posteriors", "segments"])
def test_spot_finds_words_in_a_recording(fitted, detector):
    spotter = copy.deepcopy(fitted[0]).set_params(detector=detector)
    clips, labels, _ = _clips("012", [20])
    waves = [load_audio(p, sr=8000)[0] for p in clips[::3]]
    y, truth = make_stream(waves, labels[::3], sr=8000, random_state=0)
    # A model of 12 epochs is unsure (scores about 0.4): a low threshold finds its words.
    events = spotter.spot(y, threshold=0.3)
    assert all(set(e) == {"start", "end", "label", "score"} for e in events)
    assert event_scores(events, truth)["f1"] >= 0.6
    # A higher threshold keeps the surer events (the "auto" one: 0.8 or 0.5).
    auto = 0.8 if detector == "posteriors" else 0.5
    assert spotter.spot(y) == [e for e in events if e["score"] >= auto]
    assert spotter.spot(y, threshold=1.0) == []  # nothing is that sure
    assert spotter.spot(np.zeros(8000 * 5, dtype=np.float32)) == []


class _Coverage:
    """A fake classifier: the share of each window covered by the value 1 ("a") or 2 ("b")."""

    classes_ = np.array(["_bg_", "a", "b"])

    def predict_proba(self, X):
        share = np.array([[np.mean(x == 1), np.mean(x == 2)] for x in X])
        return np.column_stack([1 - share.sum(axis=1), share])


def test_scan_keywords_picks_one_peak_per_word_from_the_posteriors():
    sr = 1000
    y = np.zeros(6 * sr, dtype=np.float32)
    y[1000:1500] = 1.0  # "a" from 1.0 to 1.5 s
    y[3000:3500] = 2.0  # "b" from 3.0 to 3.5 s
    events, times, posteriors = scan_keywords(
        _Coverage(), y, sr=sr, background_label="_bg_", threshold=0.5, window=0.6, hop=0.1,
        smooth=1, return_posteriors=True,
    )  # fmt: skip
    assert [e["label"] for e in events] == ["a", "b"]
    truth = [{"start": 1.0, "end": 1.5, "label": "a"}, {"start": 3.0, "end": 3.5, "label": "b"}]
    assert event_scores(events, truth)["f1"] == 1.0
    assert events[0]["score"] == round(5 / 6, 4)  # the window holds all of "a"
    np.testing.assert_allclose(times, np.arange(55) / 10)  # windows that fit in 6 s
    assert posteriors.shape == (55, 3)
    smoothed = scan_keywords(_Coverage(), y, sr=sr, background_label="_bg_", threshold=0.5,
                             window=0.6, hop=0.1)  # fmt: skip
    assert [e["label"] for e in smoothed] == ["a", "b"]
    assert scan_keywords(_Coverage(), y, sr=sr, background_label="_bg_", threshold=0.9) == []
    with pytest.raises(ValueError, match="smooth must be a positive integer"):
        scan_keywords(_Coverage(), y, sr=sr, background_label="_bg_", smooth=0)


def test_scan_keywords_edge_cases():
    sr = 1000
    # Two windows only (0.7-0.8 s at the defaults): as many smoothed rows as windows.
    for n in (700, 701, 799):
        y = np.zeros(n, dtype=np.float32)
        y[100:500] = 1.0
        events, times, posteriors = scan_keywords(
            _Coverage(), y, sr=sr, background_label="_bg_", threshold=0.0,
            return_posteriors=True,
        )  # fmt: skip
        assert len(times) == len(posteriors) == 2 and [e["label"] for e in events] == ["a"]
    # A keyword below the background is no event, however low the threshold.
    y = np.zeros(3000, dtype=np.float32)
    y[1000:1200] = 1.0  # covers at most 1/3 of a 0.6-s window
    assert scan_keywords(_Coverage(), y, sr=sr, background_label="_bg_", threshold=0.1,
                         smooth=1) == []  # fmt: skip
    # Of peaks min_gap apart or closer, the most probable; further apart, both.
    y = np.zeros(3000, dtype=np.float32)
    y[200:800], y[800:1300] = 1.0, 2.0  # "b" covers 5/6 of its best window, "a" all of it
    for gap, kept in ((0.6, [("a", 0.2)]), (0.59, [("a", 0.2), ("b", 0.8)])):
        events = scan_keywords(_Coverage(), y, sr=sr, background_label="_bg_", threshold=0.5,
                               smooth=1, min_gap=gap)  # fmt: skip
        assert [(e["label"], e["start"]) for e in events] == kept


def test_grid_search_with_speaker_groups_and_saving(fitted, tmp_path):
    paths, labels, groups = _clips("01", range(10, 13))
    search = GridSearchCV(
        KeywordSpotter(max_iter=1, hidden_size=8, n_copies=0),
        {"pooling": ["max", "mean"]},
        cv=GroupKFold(3),
        error_score="raise",
    ).fit(paths, labels, groups=groups)
    assert search.best_params_["pooling"] in ("max", "mean")
    assert clone(search.best_estimator_).get_params() == search.best_estimator_.get_params()
    spotter = fitted[0]
    sklstm.save(spotter, tmp_path / "spotter.sklstm")
    loaded = sklstm.load(tmp_path / "spotter.sklstm")
    assert loaded.get_params() == spotter.get_params()
    np.testing.assert_array_equal(
        loaded.predict_proba(paths[:5]), spotter.predict_proba(paths[:5])
    )


def test_bad_input_is_refused_with_a_message_that_names_it(fitted):
    spotter, paths, labels = fitted
    with pytest.raises(NotFittedError):
        KeywordSpotter().predict(paths[:1])
    with pytest.raises(NotFittedError):
        KeywordSpotter().spot(np.zeros(8000, dtype=np.float32))
    with pytest.raises(ValueError, match="a list of clips .* not a single clip"):
        spotter.predict(np.zeros(800))
    with pytest.raises(ValueError, match="a list of clips"):
        spotter.predict(str(paths[0]))
    with pytest.raises(ValueError, match=r"Clip 1 must be a non-empty, finite 1-D waveform"):
        spotter.predict([np.zeros(800), np.zeros((2, 800))])
    with pytest.raises(ValueError, match="Clip 0 must be .* finite"):
        spotter.predict([np.full(800, np.nan)])
    with pytest.raises(ValueError, match="X holds 3 clips but y has shape"):
        KeywordSpotter(**TINY).fit(paths[:3], labels[:2])
    with pytest.raises(ValueError, match="background label '_background_' for keyword clips"):
        KeywordSpotter(**TINY).fit(paths[:2], ["0", "_background_"])
    with pytest.raises(ValueError, match="'threshold' parameter"):
        KeywordSpotter(threshold=2.0).fit(paths[:2], labels[:2])
    with pytest.raises(ValueError, match="threshold must be 'auto', a probability or a dict"):
        spotter.spot(np.zeros(8000, dtype=np.float32), threshold=-0.1)
    with pytest.raises(ValueError, match="y must hold the keywords as strings"):
        KeywordSpotter(**TINY).fit(paths[:2], [0, 1])
    # The epoch budget is fixed on purpose; a diverging fit is still reported.
    two_words = [p for p in paths if p.name[0] == "0"][:12] + [
        p for p in paths if p.name[0] == "1"
    ][:12]
    with pytest.warns(ConvergenceWarning, match="Training diverged after"):
        KeywordSpotter(max_iter=3, hidden_size=8, n_copies=0, learning_rate_init=1e20).fit(
            two_words, [p.name[0] for p in two_words]
        )


def test_stream_finds_the_events_of_spot_while_the_audio_arrives(fitted):
    spotter = copy.deepcopy(fitted[0]).set_params(detector="posteriors")
    clips, labels, _ = _clips("012", [21])
    waves = [load_audio(p, sr=8000)[0] for p in clips[::2]]
    y, truth = make_stream(waves, labels[::2], sr=8000, snr_db=10, random_state=2)
    expected = spotter.spot(y, threshold=0.3)
    assert len(expected) >= 5
    stream, events = spotter.stream(threshold=0.3), []
    for start in range(0, len(y), 800):  # 100 ms at a time
        events += stream.update(y[start : start + 800])
    events += stream.finish()
    assert [{k: e[k] for k in ("start", "end", "label", "score")} for e in events] == expected
    with pytest.raises(ValueError, match="detector='posteriors'"):
        spotter.set_params(detector="segments").stream()
    with pytest.raises(ValueError, match="threshold"):
        spotter.set_params(detector="posteriors").stream(threshold=2.0)
    with pytest.raises(NotFittedError):
        KeywordSpotter().stream()


def test_a_threshold_per_keyword(fitted, tmp_path, monkeypatch):
    spotter = copy.deepcopy(fitted[0]).set_params(detector="posteriors")
    clips, labels, _ = _clips("012", [21])
    waves = [load_audio(p, sr=8000)[0] for p in clips[::2]]
    y, _ = make_stream(waves, labels[::2], sr=8000, snr_db=10, random_state=2)
    assert spotter.keyword_thresholds() == {"0": 0.8, "1": 0.8, "2": 0.8}  # "auto"
    assert spotter.set_params(detector="segments").keyword_thresholds(0.3)["2"] == 0.3
    assert spotter.keyword_thresholds()["0"] == 0.5  # "auto" of the energy segments
    spotter.set_params(detector="posteriors")
    expected = spotter.spot(y, threshold=0.3)
    same = {"0": 0.3, "1": 0.3, "2": 0.3}
    assert spotter.spot(y, threshold=same) == expected
    # The keyword heard least surely, its threshold over its best score: its
    # events go (the others' stay here; a peak gone may free weaker ones).
    tops = {}
    for e in expected:
        tops[e["label"]] = max(tops.get(e["label"], 0.0), e["score"])
    assert len(tops) >= 2
    quiet = min(tops, key=tops.get)
    over = min(1.0, tops[quiet] + 1e-3)
    raised = spotter.spot(y, threshold={**same, quiet: over})
    assert quiet not in {e["label"] for e in raised}
    assert all(e in raised for e in expected if e["label"] != quiet)
    # Stored as a parameter: spot, the stream and a saved file read it.
    spotter.set_params(threshold={**same, quiet: over})
    assert spotter.spot(y) == raised
    assert spotter.keyword_thresholds() == {**same, quiet: over}
    stream = spotter.stream()
    streamed = stream.update(y) + stream.finish()
    assert [{k: e[k] for k in ("start", "end", "label", "score")} for e in streamed] == raised
    sklstm.save(spotter, tmp_path / "per_keyword.sklstm")
    loaded = sklstm.load(tmp_path / "per_keyword.sklstm")
    assert loaded.get_params() == spotter.get_params() and loaded.spot(y) == raised
    assert clone(spotter).threshold == spotter.threshold
    with pytest.raises(ValueError, match="missing: '1', '2'"):
        spotter.spot(y, threshold={"0": 0.5})
    with pytest.raises(ValueError, match="not keywords: '7'"):
        spotter.stream(threshold={**same, "7": 0.5})
    # A dict that misnames the keywords is refused before any training.
    paths, labels, _ = _clips("01", [10])

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the thresholds")

    monkeypatch.setattr(LSTMClassifier, "fit", no_training)
    with pytest.raises(ValueError, match="missing: '1'"):
        KeywordSpotter(threshold={"0": 0.5}, max_iter=1).fit(paths, labels)


def test_clips_and_windows_are_also_read_sped_up_and_slowed(fitted, tmp_path):
    spotter = copy.deepcopy(fitted[0])
    assert spotter.test_speeds == (0.95, 1.05)
    paths, labels = fitted[1], fitted[2]
    clips = [load_audio(p, sr=8000)[0] for p in paths[:6]]
    # The clip's probabilities averaged with those of its copies 5 % faster and slower.
    read = [spotter.pipeline_.predict_proba(clips)]
    read += [spotter.pipeline_.predict_proba([change_speed(c, rate=r) for c in clips])
             for r in (0.95, 1.05)]  # fmt: skip
    proba = spotter.predict_proba(clips)
    np.testing.assert_allclose(proba, np.mean(read, axis=0), rtol=1e-5, atol=1e-7)
    # Each clip's average is its own, whatever else is in the batch.
    np.testing.assert_allclose(spotter.predict_proba(clips[2:3]), proba[2:3], rtol=1e-5, atol=1e-7)
    plain = copy.deepcopy(spotter).set_params(test_speeds=())
    np.testing.assert_array_equal(plain.predict_proba(clips), read[0])
    # spot reads its windows the same way: the posteriors of the averaging classifier.
    y, _ = make_stream(clips, labels[:6], sr=8000, random_state=0)
    events, _, posteriors = scan_keywords(
        spotter._classifier(spotter.pipeline_), y, sr=8000,
        background_label=spotter.background_label, threshold=0.8, return_posteriors=True,
    )  # fmt: skip
    assert spotter.spot(y) == events
    _, _, plain_posteriors = scan_keywords(
        spotter.pipeline_, y, sr=8000, background_label=spotter.background_label,
        return_posteriors=True,
    )  # fmt: skip
    assert not np.allclose(posteriors, plain_posteriors)
    # Files and pickles saved before test_speeds existed load reading the clip alone.
    path = tmp_path / "old.sklstm"
    sklstm.save(spotter, path)
    assert sklstm.load(path).test_speeds == (0.95, 1.05)
    rewrite_without(path, {"test_speeds"})
    old = sklstm.load(path)
    assert old.test_speeds == ()
    np.testing.assert_array_equal(old.predict_proba(clips), read[0])
    state = spotter.__getstate__()
    del state["test_speeds"]
    restored = KeywordSpotter.__new__(KeywordSpotter)
    restored.__setstate__(state)
    assert restored.test_speeds == ()
    for bad in ((0.2,), (1.0, "fast"), (True,), 1.05):
        with pytest.raises(ValueError, match="test_speeds"):
            copy.deepcopy(spotter).set_params(test_speeds=bad).predict(clips[:1])
    with pytest.raises(ValueError, match=r"tuple \(or list\) of speed factors"):
        KeywordSpotter(test_speeds=(3.0,), max_iter=1).fit(paths[:2], labels[:2])
