"""The keyword-spotting application, end to end on real FSDD clips, and its pieces."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _data import DATA

from pipelines import keyword_spotting as kws
from pipelines._cli import load_model
from sklstm.audio import event_scores, make_stream, speech_segments, spot_keywords

RECORDINGS = DATA / "fsdd" / "recordings"
needs_fsdd = pytest.mark.skipif(
    not RECORDINGS.is_dir(), reason=f"FSDD not found under $SKLSTM_DATA ({RECORDINGS})"
)
ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
KEYWORDS = ("0", "1", "2", "3")


def link_clips(folder, indices, keywords=KEYWORDS):
    """A FSDD-style DIR of links to real clips (the data stay where they are)."""
    folder.mkdir(parents=True)
    for digit in keywords:
        for speaker in SPEAKERS:
            for index in indices:
                name = f"{digit}_{speaker}_{index}.wav"
                (folder / name).symlink_to(RECORDINGS / name)
    return folder


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.keyword_spotting", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained by the CLI on 4 digits x 6 speakers x indices 10-29 (480 clips).

    Smaller and shorter than the default (15 epochs, 64 units) so that CI
    stays fast; the figures of the full model are in docs/keyword_spotting.md.
    """
    if not RECORDINGS.is_dir():
        pytest.skip(f"FSDD not found under $SKLSTM_DATA ({RECORDINGS})")
    tmp = tmp_path_factory.mktemp("kws")
    train_dir = link_clips(tmp / "train", range(10, 30))
    model = tmp / "models" / "kws.sklstm"
    result = run_cli(
        "train",
        "--data",
        train_dir,
        "--model",
        model,
        "--epochs",
        15,
        "--hidden-size",
        64,
    )
    assert result.returncode == 0, result.stderr
    return tmp, model, result


@needs_fsdd
def test_train_shows_progress_and_saves_the_pipeline(trained):
    _, model_path, result = trained
    assert "reading clips" in result.stderr  # file progress bar
    assert "training on 480 clips of 4 keywords and 48 background clips" in result.stderr
    assert "train_loss" in result.stdout + result.stderr  # per-epoch table
    model = load_model(model_path)
    pipeline = model["pipeline"]
    assert [name for name, _ in pipeline.steps] == ["mfcc", "sequencescaler", "lstmclassifier"]
    assert list(pipeline.classes_) == [*KEYWORDS, kws.BACKGROUND]
    assert model["sample_rate"] == 8000 and model["labels"] == list(KEYWORDS)
    assert model["trained_on"]["n_clips"] == 480


@needs_fsdd
def test_evaluate_json_on_held_out_clips(trained):
    tmp, model, _ = trained
    test_dir = link_clips(tmp / "test", range(5, 10))
    result = run_cli("evaluate", "--model", model, "--data", test_dir, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"accuracy", "n_clips", "per_class", "confusion_matrix", "labels"}
    assert report["n_clips"] == 120
    assert set(KEYWORDS) <= set(report["labels"])
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (len(report["labels"]),) * 2 and matrix.sum() == 120
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / 120)
    assert set(report["per_class"]["0"]) == {"precision", "recall", "f1"}
    # 480 training clips, 15 epochs: far from the full model, far above chance (25 %).
    assert report["accuracy"] >= 0.85

    text = run_cli("evaluate", "--model", model, "--data", test_dir)
    assert text.returncode == 0
    assert text.stdout.startswith("accuracy ") and "confusion matrix" in text.stdout


@needs_fsdd
def test_predict_reports_bad_files_and_exits_non_zero(trained):
    tmp, model, _ = trained
    bad = tmp / "broken.wav"
    bad.write_bytes(b"RIFF not really")
    good = [RECORDINGS / "1_theo_7.wav", RECORDINGS / "3_lucas_8.wav"]
    result = run_cli("predict", "--model", model, good[0], bad, good[1])
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(good[0]), str(good[1])]
    assert all(0 <= float(line.split("\t")[2]) <= 1 for line in lines)
    assert f"{bad}: not a readable audio file" in result.stderr


@needs_fsdd
def test_spot_finds_words_in_silence_and_noise_and_nothing_in_noise_alone(trained):
    tmp, model, _ = trained
    rng = np.random.default_rng(0)
    names = [f"{d}_{s}_{i}.wav" for i in (5, 6) for s in SPEAKERS for d in KEYWORDS]
    rng.shuffle(names)
    clips = [sf.read(RECORDINGS / name, dtype="float32")[0] for name in names[:24]]
    # FSDD's speakers were recorded up to 20 dB apart; one recording holds one level.
    clips = [0.05 * c / np.sqrt(np.mean(c**2)) for c in clips]
    labels = [name.split("_")[0] for name in names[:24]]
    scores = []
    for snr in (None, 10.0):
        y, truth = make_stream(clips, labels, sr=8000, snr_db=snr, random_state=1)
        path = tmp / f"stream_{snr}.wav"
        sf.write(path, y, 8000, subtype="FLOAT")
        result = run_cli("spot", "--model", model, path, "--json")
        assert result.returncode == 0, result.stderr
        events = json.loads(result.stdout)
        assert all(set(e) == {"start", "end", "label", "score"} for e in events)
        assert [e["start"] for e in events] == sorted(e["start"] for e in events)
        scores.append(event_scores(events, truth)["f1"])
    assert min(scores) >= 0.85, scores

    noise = tmp / "noise.wav"
    sf.write(noise, 0.05 * rng.standard_normal(5 * 8000).astype(np.float32), 8000)
    result = run_cli("spot", "--model", model, noise, "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_find_clips_in_both_layouts(tmp_path):
    fsdd = tmp_path / "fsdd" / "recordings"
    fsdd.mkdir(parents=True)
    for name in ("7_theo_3.wav", "0_lucas_12.wav", "README.md"):
        (fsdd / name).write_bytes(b"")
    paths, labels, groups, noises = kws.find_clips(tmp_path / "fsdd")
    assert [p.name for p in paths] == ["0_lucas_12.wav", "7_theo_3.wav"]
    assert labels == ["0", "7"] and groups == ["lucas", "theo"] and noises == []

    sc = tmp_path / "speech_commands"
    for folder, names in {
        "yes": ["a1b2_nohash_0.wav", "c3d4_nohash_1.wav"],
        "no": ["a1b2_nohash_0.wav"],
        "_background_noise_": ["white_noise.wav"],
        "empty": [],
    }.items():
        (sc / folder).mkdir(parents=True)
        for name in names:
            (sc / folder / name).write_bytes(b"")
    paths, labels, groups, noises = kws.find_clips(sc)
    assert labels == ["no", "yes", "yes"] and groups == ["a1b2", "a1b2", "c3d4"]
    assert [n.name for n in noises] == ["white_noise.wav"]

    with pytest.raises(SystemExit, match="no audio clips"):
        kws.find_clips(tmp_path / "speech_commands" / "empty")
    with pytest.raises(SystemExit, match="is not a directory"):
        kws.find_clips(tmp_path / "nowhere")


def test_background_clips():
    noise = np.ones(50000, dtype=np.float32)
    clips = kws.make_background(30, sr=8000, lengths=[4000, 6000], noises=[noise], random_state=0)
    assert len(clips) == 30 and all(c.dtype == np.float32 for c in clips)
    assert all(2800 <= len(c) <= 9000 for c in clips)
    assert all(np.all(c == 1.0) for c in clips[2::3])  # excerpts of the noise recording
    levels = [10 * np.log10(np.mean(c.astype(float) ** 2) + 1e-20) for c in clips[1::3]]
    assert all(-41 < level < -9 for level in levels)


def test_speech_segments_and_rejection():
    sr = 8000
    rng = np.random.RandomState(0)
    y = 0.003 * rng.randn(4 * sr).astype(np.float32)
    tone = np.sin(2 * np.pi * 300 * np.arange(int(0.4 * sr)) / sr).astype(np.float32)
    y[sr : sr + len(tone)] += tone
    # Two "syllables" 0.1 s apart make one word; 0.5 s apart, two.
    y[int(2.5 * sr) : int(2.7 * sr)] += tone[: int(0.2 * sr)]
    y[int(2.8 * sr) : int(3.0 * sr)] += tone[: int(0.2 * sr)]
    segments = speech_segments(y, sr=sr) / sr
    np.testing.assert_allclose(segments, [[0.81, 1.585], [2.31, 3.185]], atol=0.03)

    class Fixed:
        classes_ = np.array(["go", "stop", kws.BACKGROUND])

        def __init__(self, proba):
            self.proba = np.array(proba)

        def predict_proba(self, X):
            assert len(X) == 2
            return self.proba

    events = spot_keywords(
        Fixed([[0.9, 0.1, 0.0], [0.4, 0.3, 0.3]]), y, sr=sr, background_label=kws.BACKGROUND
    )
    assert [(e["label"], e["score"]) for e in events] == [("go", 0.9)]  # 0.4 < threshold
    events = spot_keywords(
        Fixed([[0.1, 0.1, 0.8], [0.2, 0.7, 0.1]]), y, sr=sr, background_label=kws.BACKGROUND
    )
    assert [e["label"] for e in events] == ["stop"]  # background rejected
    assert spot_keywords(Fixed([]), np.zeros(sr), sr=sr, background_label="x") == []
