"""A threshold per keyword: how the detectors read it, and how tune_thresholds chooses it."""

import numpy as np
import pytest

from sklstm.audio import (
    KeywordStream,
    event_scores,
    scan_keywords,
    spot_keywords,
    tune_thresholds,
)
from sklstm.audio._spot import _class_thresholds

SR = 100
SCAN = dict(sr=SR, background_label="_bg_", window=0.6, hop=0.1, smooth=1, min_gap=0.5)


class _Spikes:
    """A fake classifier: "a" is the highest sample of a window, "b" minus the lowest.

    A recording of zeros with spikes then has a peak of exactly known height per
    spike: up for "a", down for "b".
    """

    classes_ = np.array(["_bg_", "a", "b"])

    def predict_proba(self, X):
        rows = []
        for x in X:
            a, b = max(0.0, float(np.max(x))), max(0.0, -float(np.min(x)))
            rows.append([1.0 - a - b, a, b])
        return np.array(rows)


def _recording(spikes, seconds=None):
    """Zeros with a spike of ``height`` at each ``time``: ``[(time, height), ...]``."""
    n = int(SR * (seconds or max(t for t, _ in spikes) + 1.5))
    y = np.zeros(n, dtype=np.float32)
    for time, height in spikes:
        y[int(round(time * SR))] = height
    return y


def _word(time, label):
    return {"start": time - 0.05, "end": time + 0.05, "label": label}


def test_one_threshold_or_one_per_keyword():
    classes = np.array(["_bg_", "a", "b"])
    np.testing.assert_array_equal(_class_thresholds(0.7, classes, "_bg_"), [1.0, 0.7, 0.7])
    np.testing.assert_array_equal(
        _class_thresholds({"b": 0.9, "a": 0.6}, classes, "_bg_"), [1.0, 0.6, 0.9]
    )
    # Keys are read as the events name the keywords: as strings.
    np.testing.assert_array_equal(
        _class_thresholds({0: 0.6, 1: 0.9}, np.array([0, 1, 2]), 2), [0.6, 0.9, 1.0]
    )
    with pytest.raises(ValueError, match=r"per keyword \('a', 'b'\); missing: 'b'\."):
        _class_thresholds({"a": 0.6}, classes, "_bg_")
    with pytest.raises(ValueError, match=r"not keywords: '_bg_', 'c'; missing: 'b'\."):
        _class_thresholds({"a": 0.6, "c": 0.5, "_bg_": 0.5}, classes, "_bg_")
    with pytest.raises(ValueError, match="names a keyword twice"):
        _class_thresholds({0: 0.6, "0": 0.9, 1: 0.5}, np.array([0, 1, 2]), 2)
    for bad in (1.5, -0.1, True, "0.8", None, {"a": 0.5, "b": 2.0}, {"a": 0.5, "b": "x"}):
        with pytest.raises(ValueError, match="threshold must be a probability or a dict"):
            _class_thresholds(bad, classes, "_bg_")


def test_the_scan_and_the_stream_read_each_keywords_threshold():
    y = _recording([(1.0, 0.72), (2.0, -0.97), (3.0, -0.77), (4.0, 0.9)])
    classifier = _Spikes()
    every = scan_keywords(classifier, y, threshold=0.5, **SCAN)
    assert [(e["label"], e["score"]) for e in every] == [
        ("a", 0.72), ("b", 0.97), ("b", 0.77), ("a", 0.9),
    ]  # fmt: skip
    assert scan_keywords(classifier, y, threshold={"a": 0.5, "b": 0.5}, **SCAN) == every
    per_keyword = {"a": 0.8, "b": 0.75}
    expected = [every[i] for i in (1, 2, 3)]
    assert scan_keywords(classifier, y, threshold=per_keyword, **SCAN) == expected
    assert scan_keywords(classifier, y, threshold={"a": 0.7, "b": 0.8}, **SCAN) == [
        every[i] for i in (0, 1, 3)
    ]
    stream = KeywordStream(classifier, threshold=per_keyword, **SCAN)
    events = stream.update(y) + stream.finish()
    assert [{k: e[k] for k in ("start", "end", "label", "score")} for e in events] == expected
    with pytest.raises(ValueError, match="missing: 'b'"):
        KeywordStream(classifier, threshold={"a": 0.5}, **SCAN)
    with pytest.raises(ValueError, match="missing: 'b'"):
        scan_keywords(classifier, y, threshold={"a": 0.5}, **SCAN)


def test_thresholds_are_compared_in_the_precision_of_the_probabilities():
    # float32(0.7) < 0.7: a float32 probability of exactly 0.7 reaches a threshold
    # of 0.7, as it always did, whether the threshold is one or per keyword.
    class Float32(_Spikes):
        def predict_proba(self, X):
            return super().predict_proba(X).astype(np.float32)

    y = _recording([(1.0, 0.7)])
    assert float(np.float32(0.7)) < 0.7
    for threshold in (0.7, {"a": 0.7, "b": 0.7}):
        events = scan_keywords(Float32(), y, threshold=threshold, **SCAN)
        assert [e["label"] for e in events] == ["a"]
        stream = KeywordStream(Float32(), threshold=threshold, **SCAN)
        assert [e["label"] for e in stream.update(y) + stream.finish()] == ["a"]


def test_the_segments_read_each_keywords_threshold():
    # Bursts loud enough to be segments, each a word of one sign.
    rng = np.random.RandomState(0)
    y = (rng.standard_normal(8000 * 6) * 1e-4).astype(np.float32)
    for start, sign in ((1, 1), (3, -1)):
        y[8000 * start : 8000 * start + 3000] += sign * 0.6 * np.abs(rng.standard_normal(3000))
    settings = dict(sr=8000, background_label="_bg_")

    class Signs(_Spikes):
        def predict_proba(self, X):
            return np.array([[0.1, 0.9, 0.0] if x.mean() > 0 else [0.1, 0.0, 0.9] for x in X])

    events = spot_keywords(Signs(), y, threshold=0.5, **settings)
    assert [e["label"] for e in events] == ["a", "b"]
    only_b = spot_keywords(Signs(), y, threshold={"a": 0.95, "b": 0.5}, **settings)
    assert only_b == events[1:]


def test_tune_thresholds_keeps_the_true_words_and_drops_the_false_ones():
    # "a" is said at 0.72 and never falsely heard; "b" is said at 0.97 and
    # falsely heard at 0.77: "a" needs 0.7, "b" anything above 0.77 (the
    # highest of equally good candidates is kept).
    recordings, words = [], []
    for a_time, b_time, false_b in ((1.0, 2.0, 3.0), (2.5, 1.0, 4.0), (1.5, 3.5, 2.5)):
        recordings.append(_recording([(a_time, 0.72), (b_time, -0.97), (false_b, -0.77)], 6))
        words.append([_word(a_time, "a"), _word(b_time, "b")])
    thresholds = tune_thresholds(_Spikes(), recordings, words, **SCAN)
    assert thresholds == {"a": 0.7, "b": 0.95}
    for y, truth in zip(recordings, words):
        events = scan_keywords(_Spikes(), y, threshold=thresholds, **SCAN)
        assert event_scores(events, truth)["f1"] == 1.0
    # One threshold for every keyword cannot do both: 0.7 keeps the false "b".
    assert len(scan_keywords(_Spikes(), recordings[0], threshold=0.7, **SCAN)) == 3

    # Labels are read as the events name them: as strings.
    class Digits(_Spikes):
        classes_ = np.array(["_bg_", "1", "2"])

    as_ints = [[{**w, "label": {"a": 1, "b": 2}[w["label"]]} for w in truth] for truth in words]
    assert tune_thresholds(Digits(), recordings, as_ints, **SCAN) == {"1": 0.7, "2": 0.95}
    # Coarser candidates: the best of those.
    coarse = tune_thresholds(_Spikes(), recordings, words, candidates=[0.6, 0.9], **SCAN)
    assert coarse == {"a": 0.6, "b": 0.9}


def test_tune_thresholds_refuses_what_it_cannot_use():
    y = _recording([(1.0, 0.72)])
    with pytest.raises(ValueError, match="at least one recording"):
        tune_thresholds(_Spikes(), [], [], **SCAN)
    with pytest.raises(ValueError, match=r"words\[0\] holds 'c', which is not a keyword"):
        tune_thresholds(_Spikes(), [y], [[_word(1.0, "c")]], **SCAN)
    with pytest.raises(ValueError, match="words must list the words of each of the 1 recordings"):
        tune_thresholds(_Spikes(), [y], [], **SCAN)
    with pytest.raises(ValueError, match=r"words\[0\] must hold dicts with 'start'"):
        tune_thresholds(_Spikes(), [y], [[{"label": "a"}]], **SCAN)
    for bad in ([], [0.5, 1.5], "0.5", [True]):
        with pytest.raises(ValueError, match="candidates must be a non-empty sequence"):
            tune_thresholds(_Spikes(), [y], [[_word(1.0, "a")]], candidates=bad, **SCAN)

    class OnlyBackground:
        classes_ = np.array(["_bg_"])

    with pytest.raises(ValueError, match="no class but the background"):
        tune_thresholds(OnlyBackground(), [y], [[]], **SCAN)
