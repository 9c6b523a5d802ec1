"""KeywordStream: the events of scan_keywords, found while the audio arrives."""

import numpy as np
import pytest

from sklstm.audio import KeywordStream, scan_keywords


class _Thirds:
    """A fake classifier: each keyword's score is the loudness of one third of the window.

    Deterministic per window and independent of the batch, like a real model up
    to rounding; loud bursts of random lengths make peaks of every kind (close,
    chained, tied, at the ends).
    """

    classes_ = np.array(["_bg_", "a", "b", "c"])

    def __init__(self, dtype=np.float64):
        self.dtype = dtype

    def predict_proba(self, X):
        rows = []
        for x in X:
            x = np.abs(np.asarray(x, dtype=np.float64))
            third = max(1, len(x) // 3)
            scores = np.array(
                [
                    0.5,
                    4 * x[:third].mean(),
                    4 * x[third : 2 * third].mean(),
                    4 * x[2 * third :].mean(),
                ]
            )
            e = np.exp(scores - scores.max())
            rows.append(e / e.sum())
        return np.array(rows, dtype=self.dtype)


def _recording(rng, n):
    levels = rng.choice([0.05, 0.3, 1.0], size=n // 200 + 1).repeat(200)[:n]
    return (rng.standard_normal(n) * levels).astype(np.float32)


def _streamed(stream, y, rng, largest=700):
    events, position = [], 0
    while position < len(y):
        size = int(rng.randint(0, largest))
        events += stream.update(y[position : position + size])
        position += size
    return events + stream.finish()


def _plain(events):
    return [{k: e[k] for k in ("start", "end", "label", "score")} for e in events]


@pytest.mark.parametrize("seed", range(40))
def test_streamed_events_are_the_offline_events_whatever_the_chunks_and_settings(seed):
    rng = np.random.RandomState(seed)
    y = _recording(rng, int(rng.randint(0, 8000)))
    settings = dict(
        sr=1000,
        background_label="_bg_",
        threshold=float(rng.choice([0.3, 0.4, 0.5])),
        window=float(rng.choice([0.3, 0.6])),
        hop=float(rng.choice([0.05, 0.1])),
        smooth=int(rng.choice([1, 2, 3, 5])),
        min_gap=float(rng.choice([0.0, 0.2, 0.5, 1.0])),
    )
    classifier = _Thirds(rng.choice([np.float32, np.float64]))
    if seed % 4 == 3:  # a threshold per keyword
        settings["threshold"] = {k: float(rng.choice([0.3, 0.4, 0.5])) for k in "abc"}
    expected = scan_keywords(classifier, y, **settings)
    events = _streamed(KeywordStream(classifier, **settings), y, rng)
    assert _plain(events) == expected
    # Each event is reported once the audio that decides it is in, never before.
    ends = [e["decided"] for e in events]
    assert ends == sorted(ends)
    assert all(e["decided"] >= e["end"] for e in events)


def test_events_are_decided_as_early_as_the_rule_allows():
    # One word: "a" loud in the first third of the windows around 2 s.
    y = np.zeros(6000, dtype=np.float32)
    y[1900:2100] = 1.0
    stream = KeywordStream(_Thirds(), sr=1000, background_label="_bg_", threshold=0.4)
    expected = scan_keywords(_Thirds(), y, sr=1000, background_label="_bg_", threshold=0.4)
    assert len(expected) == 1
    events = []
    for start in range(0, len(y), 100):
        new = stream.update(y[start : start + 100])
        events += new
        if new:
            decided_at = (start + 100) / 1000
    assert _plain(events) == expected and stream.finish() == []
    # The smoothing needs the next window, the peak test the one after, and a
    # more probable peak may come up to min_gap later: 0.2 + 0.5 s past the window.
    assert decided_at == pytest.approx(expected[0]["end"] + 0.7)


def test_short_and_empty_recordings_and_empty_chunks():
    settings = dict(sr=1000, background_label="_bg_", threshold=0.3)
    stream = KeywordStream(_Thirds(), **settings)
    assert stream.update(np.zeros(0, dtype=np.float32)) == [] and stream.finish() == []
    assert stream.n_windows_ == 0
    short = np.ones(250, dtype=np.float32)  # shorter than a window: read whole at the end
    stream.reset()
    assert stream.update(short) == []
    assert _plain(stream.finish()) == scan_keywords(_Thirds(), short, **settings) != []
    assert stream.n_windows_ == 1 and stream.n_samples_ == 250


def test_a_finished_stream_takes_no_more_audio_until_reset():
    rng = np.random.RandomState(0)
    y = _recording(rng, 5000)
    stream = KeywordStream(_Thirds(), sr=1000, background_label="_bg_", threshold=0.4)
    first = _streamed(stream, y, rng)
    assert stream.finish() == []
    with pytest.raises(RuntimeError, match="reset"):
        stream.update(y[:10])
    assert _plain(_streamed(stream.reset(), y, rng)) == _plain(first) != []


def test_memory_stays_bounded_over_a_long_stream():
    rng = np.random.RandomState(1)
    stream = KeywordStream(_Thirds(), sr=200, background_label="_bg_", threshold=0.4)
    for _ in range(300):  # 30 minutes of audio, 10 s at a time
        stream.update(_recording(rng, 2000))
        assert len(stream._audio) < 2000 + stream._width
        assert len(stream._sums) <= stream.smooth + 3 and len(stream._raw) <= stream.smooth + 3
        assert len(stream._evidence) <= 3 and len(stream._peaks) <= 10
    assert stream.n_windows_ > 17000


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(threshold=1.5), "threshold must be a probability"),
        (dict(threshold=True), "threshold must be a probability"),
        (dict(window=0.0), "must each span a sample"),
        (dict(hop=-1.0), "hop must be a finite number"),
        (dict(smooth=0), "smooth must be a positive integer"),
        (dict(min_gap=np.inf), "min_gap must be a finite number"),
        (dict(sr=0), "sr"),
    ],
)
def test_bad_settings_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        KeywordStream(_Thirds(), **{"sr": 1000, "background_label": "_bg_", **settings})


def test_bad_chunks_are_refused_by_name():
    stream = KeywordStream(_Thirds(), sr=1000, background_label="_bg_")
    with pytest.raises(ValueError):
        stream.update(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(ValueError):
        stream.update(np.array([0.0, np.nan], dtype=np.float32))


class _FirstSample:
    """A fake classifier whose "a" is as probable as the window's first sample."""

    classes_ = np.array(["_bg_", "a"])

    def predict_proba(self, X):
        p = np.array([float(x[0]) for x in X])
        return np.column_stack([1 - p, p])


def test_a_long_chain_of_ever_more_probable_close_peaks_is_decided_like_offline():
    # Peaks every 0.2 s, each a little more probable than the last: each may lose
    # to the next, so all stay open until the chain ends; no recursion limit hit.
    n = 1500
    values = np.empty(2 * n, dtype=np.float32)
    values[0::2] = 0.5 + 0.4 * np.arange(n) / n
    values[1::2] = 0.1
    y = np.repeat(values, 100)
    settings = dict(sr=1000, background_label="_bg_", threshold=0.3, window=0.1, hop=0.1,
                    smooth=1, min_gap=0.5)  # fmt: skip
    stream = KeywordStream(_FirstSample(), **settings)
    events = []
    for start in range(0, len(y), 1000):
        events += stream.update(y[start : start + 1000])
    events += stream.finish()
    assert _plain(events) == scan_keywords(_FirstSample(), y, **settings) != []


@pytest.mark.parametrize("seed", range(5))
def test_a_hop_longer_than_the_window_skips_the_audio_between_windows(seed):
    rng = np.random.RandomState(seed)
    y = _recording(rng, 6000)
    settings = dict(sr=1000, background_label="_bg_", threshold=0.3, window=0.1, hop=0.25,
                    smooth=1, min_gap=0.0)  # fmt: skip
    expected = scan_keywords(_Thirds(), y, **settings)
    events = _streamed(KeywordStream(_Thirds(), **settings), y, rng, largest=130)
    assert _plain(events) == expected != []
