"""CausalKeywordSpotter: words named frame by frame as the audio arrives, on real FSDD clips."""

import numpy as np
import pytest
from _ctrl_c import CtrlCAt
from _data import DATA
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import sklstm
from sklstm.audio import (
    CausalKeywordSpotter,
    CausalKeywordStream,
    event_scores,
    load_audio,
    make_stream,
)
from sklstm.audio._spot import _matched_events
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint

RECORDINGS = DATA / "fsdd" / "recordings"
pytestmark = pytest.mark.skipif(not RECORDINGS.is_dir(), reason="FSDD not under $SKLSTM_DATA")

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
# About 8 s of fitting: enough for the tagger to name three digits of held-out takes.
TINY = dict(max_iter=30, n_streams=100, hidden_size=64, num_layers=1)


def _clips(keywords, indices):
    paths = [RECORDINGS / f"{k}_{s}_{i}.wav" for k in keywords for s in SPEAKERS for i in indices]
    return paths, np.array([p.name[0] for p in paths])


@pytest.fixture(scope="module")
def fitted():
    paths, labels = _clips("012", range(10, 16))
    return CausalKeywordSpotter(**TINY).fit(paths, labels), paths, labels


@pytest.fixture(scope="module")
def recording():
    """Held-out takes of all six speakers strung with pauses, and the words said."""
    paths, labels = _clips("012", [30])
    waves = [load_audio(p, sr=8000)[0] for p in paths]
    return make_stream(waves, labels, sr=8000, random_state=0)


def test_it_fits_and_names_held_out_clips(fitted):
    spotter, paths, _ = fitted
    assert list(spotter.classes_) == ["0", "1", "2", "_background_"]
    assert [name for name, _ in spotter.pipeline_.steps] == [
        "mfcc", "runningmeannormalizer", "sequencescaler", "lstmtagger",
    ]  # fmt: skip
    tagger = spotter.pipeline_[-1]
    assert not tagger.bidirectional and tagger.n_iter_ == spotter.n_iter_ == 30
    assert tagger.callbacks is None and not spotter.interrupted_ and spotter.n_streams_ == 100
    lengths = [len(load_audio(p, sr=8000)[0]) for p in paths]
    assert spotter.word_duration_ == np.median(lengths) / 8000
    # The keywords' frames are rare: their weights are the larger ones.
    weights = tagger.class_weight
    assert weights["_background_"] < min(weights[k] for k in "012")

    test, truth = _clips("012", [30])
    proba = spotter.predict_proba(test)
    assert proba.shape == (18, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    waves = [load_audio(p, sr=8000)[0] for p in test]
    np.testing.assert_array_equal(spotter.predict_proba(waves), proba)
    assert spotter.score(test, truth) >= 0.8  # 30 epochs on 108 clips


def test_predict_proba_is_the_smoothed_row_of_the_most_keyword_like_frame(fitted):
    spotter = fitted[0]
    wave = load_audio(RECORDINGS / "1_theo_30.wav", sr=8000)[0]
    times, frames = spotter.frame_proba(wave)
    assert frames.shape == (1 + len(wave) // 160, 4) and len(times) == len(frames)
    np.testing.assert_allclose(np.diff(times[:-2]), 0.02)
    # Frame t ends at sample 160 t + 128 (centred 256-sample windows), or at the last one.
    assert times[0] == 128 / 8000
    assert times[-1] == min(((len(frames) - 1) * 160 + 128) / 8000, len(wave) / 8000)
    smoothed = np.array([frames[max(0, t - 2) : t + 1].mean(axis=0) for t in range(len(frames))])
    expected = smoothed[np.argmax(smoothed[:, :3].max(axis=1))]
    np.testing.assert_allclose(spotter.predict_proba([wave])[0], expected, rtol=1e-12)


def test_spot_finds_the_words_as_they_end(fitted, recording):
    spotter = fitted[0]
    y, truth = recording
    events = spotter.spot(y)
    assert event_scores(events, truth)["f1"] >= 0.75
    for event in events:
        assert set(event) == {"start", "end", "label", "score", "decided"}
        assert event["decided"] == event["end"] and event["score"] >= spotter.threshold
        assert event["end"] - event["start"] == pytest.approx(spotter.word_duration_, abs=2e-3)
    assert all(b["end"] - a["end"] >= spotter.refractory for a, b in zip(events, events[1:]))
    # Decided within the word's last 0.3 s, or just after it: not a window later.
    lags = [e["end"] - w["end"] for e, w in _matched_events(events, truth)]
    assert len(lags) >= 12 and max(lags) <= 0.1 and np.median(lags) >= -0.3
    # A higher threshold keeps a subset of the events; a threshold of 1 none.
    strict = spotter.spot(y, threshold=0.95)
    assert all(e["score"] >= 0.95 for e in strict) and len(strict) <= len(events)
    assert spotter.spot(y, threshold=1.0) == []
    assert spotter.spot(np.zeros(8000 * 5, np.float32)) == []
    # One threshold per keyword: the same for all is the same rule; at 1.0 a
    # keyword is never reported.
    per_keyword = {str(k): spotter.threshold for k in spotter.classes_ if k != "_background_"}
    assert spotter.keyword_thresholds() == per_keyword
    assert spotter.spot(y, threshold=per_keyword) == events
    silenced = events[0]["label"]
    quieter = spotter.spot(y, threshold={**per_keyword, silenced: 1.0})
    assert silenced not in {e["label"] for e in quieter}


@pytest.mark.parametrize("noise", [None, 10.0])
def test_the_stream_gives_the_offline_events_for_any_chunking(fitted, recording, noise):
    spotter = fitted[0]
    y, truth = recording
    if noise is not None:
        rng = np.random.RandomState(0)
        y = y + rng.standard_normal(len(y)).astype(np.float32) * np.std(y) / 10 ** (noise / 20)
    expected = spotter.spot(y)
    assert len(expected) >= 10
    stream = spotter.stream()
    assert isinstance(stream, CausalKeywordStream)
    for size in (1, 7, 160, 1234, 8000, len(y)):
        events = []
        for i in range(0, len(y), size):
            new = stream.update(y[i : i + size])
            # Each event comes with the chunk holding the frame that decides it.
            assert all(e["decided"] <= stream.n_samples_ / 8000 for e in new)
            events += new
        events += stream.finish()
        assert stream.n_frames_ == 1 + len(y) // 160
        times = [{k: e[k] for k in ("start", "end", "label", "decided")} for e in events]
        assert times == [{k: e[k] for k in times[0]} for e in expected], size
        np.testing.assert_allclose(
            [e["score"] for e in events], [e["score"] for e in expected], atol=2e-4
        )
        stream.reset()


def test_stream_state_stays_small_and_errors_are_clear(fitted):
    spotter = fitted[0]
    stream = spotter.stream(threshold=0.9)
    assert stream.threshold == 0.9 and stream.update([]) == []
    rng = np.random.RandomState(0)
    for _ in range(300):  # 30 s of noise in 0.1-s chunks
        stream.update(0.01 * rng.standard_normal(800).astype(np.float32))
    # The samples of one frame and a chunk, the rows of the smoothing: no more.
    assert len(stream._pending) < 256 + 800 and len(stream._history) == spotter.smooth - 1
    assert stream.n_samples_ == 240_000 and stream.n_frames_ == 1 + (240_000 - 128) // 160
    for chunk, message in [
        (np.zeros((10, 2)), "1-D array"),
        ([0.0, np.nan], "finite"),
        (["a"], "array of samples"),
    ]:
        with pytest.raises(ValueError, match=message):
            stream.update(chunk)
    stream.finish()
    with pytest.raises(RuntimeError, match="reset"):
        stream.update(np.zeros(10))
    assert stream.reset().n_samples_ == 0 and stream.finish() == []
    for bad in (1.5, -0.1, True, "0.8"):
        with pytest.raises(ValueError, match="threshold must be a probability"):
            spotter.stream(threshold=bad)


def test_it_refuses_bad_input_with_clear_messages(fitted):
    spotter, paths, labels = fitted
    with pytest.raises(ValueError, match="background label"):
        CausalKeywordSpotter(**TINY).fit(paths[:2], ["0", "_background_"])
    with pytest.raises(ValueError, match="as strings"):
        CausalKeywordSpotter(**TINY).fit(paths[:2], [0, 1])
    with pytest.raises(ValueError, match="noises must be"):
        CausalKeywordSpotter(**TINY).fit(paths[:2], labels[:2], noises=[np.zeros(0)])
    with pytest.raises(ValueError, match="No training recording holds keyword"):
        lone = [*paths[:40], RECORDINGS / "9_theo_10.wav"]
        CausalKeywordSpotter(**{**TINY, "n_streams": 1}).fit(lone, [*labels[:40], "9"])
    with pytest.raises(InvalidParameterError, match="n_streams"):
        CausalKeywordSpotter(n_streams=0).fit(paths[:2], labels[:2])
    with pytest.raises(ValueError, match="non-empty, finite 1-D waveform"):
        spotter.spot(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="not a single clip"):
        spotter.predict(np.zeros(800))


def test_save_load_and_clone_keep_the_model(fitted, recording, tmp_path):
    spotter = fitted[0]
    y, _ = recording
    path = tmp_path / "causal.sklstm"
    sklstm.save(spotter, path)
    loaded = sklstm.load(path)
    assert isinstance(loaded, CausalKeywordSpotter)
    assert loaded.spot(y) == spotter.spot(y)
    assert loaded.word_duration_ == spotter.word_duration_
    assert clone(spotter).get_params() == spotter.get_params()


def test_an_interrupted_fit_resumes_to_the_uninterrupted_model(tmp_path):
    paths, labels = _clips("01", [10, 11])
    settings = dict(max_iter=4, n_streams=20, hidden_size=8, num_layers=1)
    checkpoint = tmp_path / "causal.ckpt"
    with pytest.warns(UserWarning, match="interrupted"):
        partial = CausalKeywordSpotter(
            **settings, callbacks=[ResumableCheckpoint(checkpoint), CtrlCAt("epoch_begin", 3)]
        ).fit(paths, labels)
    assert partial.interrupted_ and partial.n_iter_ == 2
    resumed = CausalKeywordSpotter(**settings).fit(
        paths, labels, resume=load_checkpoint(checkpoint)
    )
    reference = CausalKeywordSpotter(**settings).fit(paths, labels)
    assert resumed.n_iter_ == reference.n_iter_ == 4 and not resumed.interrupted_
    np.testing.assert_array_equal(resumed.predict_proba(paths), reference.predict_proba(paths))
    with pytest.raises(ValueError, match="other settings"):
        CausalKeywordSpotter(**{**settings, "hidden_size": 16}).fit(
            paths, labels, resume=load_checkpoint(checkpoint)
        )
