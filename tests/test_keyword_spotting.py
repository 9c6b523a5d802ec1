"""The keyword-spotting application, end to end on real FSDD clips, and its pieces."""

import argparse
import copy
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _ctrl_c import CtrlCAt, ctrl_c, ctrl_c_at_write
from _data import DATA

import sklstm
from pipelines import _kws_data, _kws_models, _plots
from pipelines import keyword_spotting as kws
from pipelines._kws_models import BACKGROUND
from sklstm.audio import (
    _spotter,
    event_scores,
    make_babble,
    make_background,
    make_stream,
    resample,
    speech_segments,
    spot_keywords,
)
from sklstm.checkpoint import load_checkpoint

RECORDINGS = DATA / "fsdd" / "recordings"
needs_fsdd = pytest.mark.skipif(
    not RECORDINGS.is_dir(), reason=f"FSDD not found under $SKLSTM_DATA ({RECORDINGS})"
)
ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
KEYWORDS = ("0", "1", "2", "3")


def _pipeline(path):
    """The fitted pipeline of the KeywordSpotter that `train` saved to ``path``."""
    return sklstm.load(path)["keyword_spotter"].pipeline_


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


TRAIN_OPTIONS = ("--epochs", 15, "--hidden-size", 64)
# Tiny runs for the tests of training itself (interruptions, bad files).
TINY = ["--epochs", "5", "--hidden-size", "8", "--copies", "1", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained by the CLI on 4 digits x 6 speakers x indices 10-29 (480 clips).

    Smaller and shorter than the default (15 epochs, 64 units) so that CI
    stays fast; the figures of the full model are in docs/keyword_spotting.md.
    The training history is drawn in ``tmp/plots``.
    """
    if not RECORDINGS.is_dir():
        pytest.skip(f"FSDD not found under $SKLSTM_DATA ({RECORDINGS})")
    tmp = tmp_path_factory.mktemp("kws")
    train_dir = link_clips(tmp / "train", range(10, 30))
    model = tmp / "models" / "kws.sklstm"
    result = run_cli(
        "train", "--data", train_dir, "--model", model, *TRAIN_OPTIONS, "--plots", tmp / "plots"
    )
    assert result.returncode == 0, result.stderr
    return tmp, model, result


def assert_png(path):
    """A PNG file that decodes to an image of a plausible size."""
    import matplotlib.image

    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] >= 200 and image.shape[1] >= 200


@pytest.fixture
def tiny_dir(tmp_path):
    """36 real clips: 3 digits x 6 speakers x 2 takes."""
    if not RECORDINGS.is_dir():
        pytest.skip(f"FSDD not found under $SKLSTM_DATA ({RECORDINGS})")
    return link_clips(tmp_path / "tiny", (10, 11), keywords=("0", "1", "2"))


@needs_fsdd
def test_train_shows_progress_and_saves_the_pipeline(trained):
    _, model_path, result = trained
    assert "reading clips" in result.stderr  # file progress bar
    assert "training on 480 clips of 4 keywords and 48 background clips" in result.stderr
    assert "train_loss" in result.stdout + result.stderr  # per-epoch table
    model = sklstm.load(model_path)
    spotter = model["keyword_spotter"]
    pipeline = spotter.pipeline_
    assert [name for name, _ in pipeline.steps] == ["mfcc", "sequencescaler", "lstmclassifier"]
    assert list(pipeline.classes_) == [*KEYWORDS, BACKGROUND]
    assert spotter.sr == 8000 and model["labels"] == list(KEYWORDS)
    assert spotter.callbacks is None and spotter.n_background_ == 48
    assert model["trained_on"]["n_clips"] == 480
    # Training completed: the checkpoint written after every epoch is gone.
    assert sorted(p.name for p in model_path.parent.iterdir()) == ["kws.sklstm"]


@needs_fsdd
def test_model_files_of_the_former_layout_still_work(trained, tmp_path, capsys):
    _, model, _ = trained
    spotter = sklstm.load(model)["keyword_spotter"]
    old = tmp_path / "old.sklstm"
    sklstm.save(
        {
            "pipeline": spotter.pipeline_,
            "sample_rate": 8000,
            "background_label": BACKGROUND,
            "threshold": 0.5,
            "segment_params": {},
        },
        old,
    )
    converted = _kws_models.load_spotter(old)
    assert converted.get_params()["hidden_size"] == 64 and converted.detector == "segments"
    assert converted.get_params()["max_iter"] == 15
    assert converted.test_speeds == ()  # read once, as it was measured
    # Its segments as they were made: total energy, 6 dB above the floor.
    assert converted.segment_params == {"bands": None, "margin_db": 6.0}
    clips = [str(RECORDINGS / f"{k}_theo_40.wav") for k in KEYWORDS]
    outputs = []
    for path in (model, old):
        assert kws.main(["predict", "--model", str(path), *clips, "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert [o["label"] for o in outputs[0]] == [o["label"] for o in outputs[1]]
    once = copy.deepcopy(spotter).set_params(test_speeds=())
    np.testing.assert_allclose(
        [o["score"] for o in outputs[1]], once.predict_proba(clips).max(axis=1), rtol=1e-6
    )
    assert len(outputs[0]) == 4
    # --test-speeds overrides the model's for predict (and evaluate, spot).
    assert (
        kws.main(["predict", "--model", str(model), *clips, "--json", "--test-speeds", "none"])
        == 0
    )
    np.testing.assert_allclose(
        [o["score"] for o in json.loads(capsys.readouterr().out)],
        once.predict_proba(clips).max(axis=1),
        rtol=1e-6,
    )
    # Its energy segments have no streaming form: --stream asks for the posteriors.
    recording = tmp_path / "words.wav"
    sf.write(recording, np.concatenate([sf.read(c, dtype="float32")[0] for c in clips]), 8000)
    with pytest.raises(SystemExit, match="add --detector posteriors"):
        kws.main(["spot", "--model", str(old), "--stream", str(recording)])
    assert kws.main(["spot", "--model", str(old), "--stream", "--detector", "posteriors",
                     str(recording)]) == 0  # fmt: skip
    assert len(capsys.readouterr().out.splitlines()) >= 1


@needs_fsdd
def test_train_again_gives_the_same_model_file_and_draws_the_history(trained):
    tmp, model, _ = trained
    again = tmp / "again" / "kws.sklstm"
    result = run_cli("train", "--data", tmp / "train", "--model", again, *TRAIN_OPTIONS)
    assert result.returncode == 0, result.stderr
    assert again.read_bytes() == model.read_bytes()

    pytest.importorskip("matplotlib")
    assert sorted(p.name for p in (tmp / "plots").iterdir()) == ["training_history.png"]
    assert_png(tmp / "plots" / "training_history.png")


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
def test_evaluate_draws_the_confusion_matrix_it_reports(trained, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    tmp, model, _ = trained
    test_dir = link_clips(tmp / "test_plots", range(5, 8))
    drawn = []

    def spy(*args, **kwargs):
        drawn.append(original(*args, **kwargs))
        return drawn[-1]

    original = _plots.save_confusion_matrix
    monkeypatch.setattr(_plots, "save_confusion_matrix", spy)
    plots = tmp / "evaluate_plots"
    argv = ["evaluate", "--model", str(model), "--data", str(test_dir), "--json"]
    assert kws.main([*argv, "--plots", str(plots)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert_png(plots / "confusion_matrix.png")
    assert [p.name for p in plots.iterdir()] == ["confusion_matrix.png"]  # no temporary left
    (display,) = drawn
    shown = [[int(text.get_text()) for text in row] for row in display.text_]
    assert shown == report["confusion_matrix"]
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == report["labels"]


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
    # The model's detector (posteriors), then the energy segments instead.
    for snr, detector in ((None, []), (10.0, []), (10.0, ["--detector", "segments"])):
        y, truth = make_stream(clips, labels, sr=8000, snr_db=snr, random_state=1)
        path = tmp / f"stream_{snr}.wav"
        sf.write(path, y, 8000, subtype="FLOAT")
        result = run_cli("spot", "--model", model, path, "--json", *detector)
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


@needs_fsdd
def test_spot_stream_prints_the_offline_events_as_json_lines_from_a_file_or_raw_pcm(trained):
    tmp, model, _ = trained
    names = [f"{d}_{s}_7.wav" for s in SPEAKERS[:3] for d in KEYWORDS]
    clips = [sf.read(RECORDINGS / name, dtype="float32")[0] for name in names]
    clips = [0.05 * c / np.sqrt(np.mean(c**2)) for c in clips]
    y, _ = make_stream(clips, [n[0] for n in names], sr=8000, snr_db=10, random_state=3)
    path = tmp / "live.wav"
    sf.write(path, y, 8000, subtype="PCM_16")
    offline = run_cli("spot", "--model", model, path, "--json")
    assert offline.returncode == 0, offline.stderr
    expected = json.loads(offline.stdout)
    assert len(expected) >= 6
    live = run_cli("spot", "--model", model, "--stream", path)
    assert live.returncode == 0, live.stderr
    events = [json.loads(line) for line in live.stdout.splitlines()]
    assert [{k: e[k] for k in ("start", "end", "label", "score")} for e in events] == expected
    assert all(e["decided"] >= e["end"] for e in events)
    assert f"{len(expected)} keyword(s) in" in live.stderr and "per s of audio" in live.stderr

    # Raw 16-bit PCM on standard input, as `arecord -f S16_LE -r 8000 -t raw` writes it.
    pcm, _ = sf.read(path, dtype="int16")
    piped = subprocess.run(
        [sys.executable, "-m", "pipelines.keyword_spotting", "spot", "--model", str(model),
         "--stream", "--chunk", "0.25", "-"],
        input=pcm.astype("<i2").tobytes(), capture_output=True, cwd=ROOT,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.decode().splitlines()
    assert [{k: e[k] for k in ("start", "end", "label")} for e in map(json.loads, lines)] == [
        {k: e[k] for k in ("start", "end", "label")} for e in expected
    ]

    # Refused before any audio is read (in process: a subprocess each would cost
    # its imports).
    for options, message in [
        (["--rate", "16000", "-"], "reads audio at 8000 Hz"),
        (["--rate", "8000", path], "--rate describes raw PCM"),
        (["--chunk", "0", path], "--chunk must be in"),
        (["--json", path], "--stream prints JSON lines"),
        (["--detector", "segments", path], "--stream spots with the posterior detector"),
    ]:
        with pytest.raises(SystemExit, match=re.escape(message)):
            kws.main(["spot", "--model", str(model), "--stream", *map(str, options)])
    for options in (["-"], ["--chunk", "0.2", str(path)]):
        with pytest.raises(SystemExit, match="need --stream"):
            kws.main(["spot", "--model", str(model), *options])


@needs_fsdd
def test_train_causal_then_spot_offline_and_live_give_the_same_events(tmp_path, capsys):
    data = link_clips(tmp_path / "train", range(10, 16), keywords=("0", "1", "2"))
    model = tmp_path / "causal.sklstm"
    argv = ["train", "--data", str(data), "--model", str(model), "--causal", "--quiet"]
    assert kws.main([*argv, "--epochs", "30", "--hidden-size", "64"]) == 0
    saved = sklstm.load(model)
    spotter = saved["keyword_spotter"]
    assert type(spotter).__name__ == "CausalKeywordSpotter" and spotter.callbacks is None
    assert saved["trained_on"]["n_streams"] == spotter.n_streams_ == 68  # 108 clips
    assert saved["trained_on"]["epochs"] == 30 and not (tmp_path / "causal.sklstm.ckpt").exists()

    names = [f"{d}_{s}_30.wav" for s in SPEAKERS for d in "012"]
    clips = [sf.read(RECORDINGS / name, dtype="float32")[0] for name in names]
    y, truth = make_stream(clips, [n[0] for n in names], sr=8000, random_state=0)
    path = tmp_path / "live.wav"
    sf.write(path, y, 8000, subtype="FLOAT")
    capsys.readouterr()
    assert kws.main(["spot", "--model", str(model), "--json", str(path)]) == 0
    offline = json.loads(capsys.readouterr().out)
    assert event_scores(offline, truth)["f1"] >= 0.6
    assert kws.main(["spot", "--model", str(model), "--stream", "--chunk", "0.1", str(path)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line) for line in out.splitlines()] == offline
    assert f"{len(offline)} keyword(s) in" in err and "each decided at its end" in err
    assert kws.main(["evaluate", "--model", str(model), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= 0.8  # its training clips

    for command, message in [
        (["spot", "--model", str(model), "--detector", "segments", str(path)], "causal spotter"),
        ([*argv, "--copies", "1"], "leave --copies out"),
        ([*argv, "--detector", "posteriors"], "leave --detector out"),
        ([*argv, "--test-speeds", "none"], "leave --test-speeds out"),
        (
            ["spot", "--model", str(model), "--test-speeds", "none", str(path)],
            "reads the audio once",
        ),
    ]:
        with pytest.raises(SystemExit, match=message):
            kws.main(command)


def test_spot_stream_ends_the_recording_at_ctrl_c(capsys, monkeypatch):
    from pipelines import _kws_stream
    from sklstm.audio import KeywordSpotter

    class Loud:
        """A classifier that hears "1" in loud windows."""

        classes_ = np.array(["1", "_background_"])

        def predict_proba(self, X):
            loud = np.array([float(np.mean(np.abs(x)) > 0.1) for x in X])
            return np.column_stack([0.05 + 0.9 * loud, 0.95 - 0.9 * loud])

    spotter = KeywordSpotter()
    spotter.pipeline_, spotter.classes_ = Loud(), Loud.classes_
    y = np.zeros(8000 * 4, dtype=np.float32)
    y[8000:12000] = 0.5

    def interrupted_after_two_seconds(path, sr, chunk):
        for start in range(0, 2 * sr, chunk):
            yield y[start : start + chunk]
        raise KeyboardInterrupt

    monkeypatch.setattr(_kws_stream, "_file_chunks", interrupted_after_two_seconds)
    args = argparse.Namespace(recording="x.wav", rate=None, chunk=0.1, threshold=None)
    assert _kws_stream.spot_stream(args, spotter) == 130
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    # The word's peak needed audio past the interruption: the end decided it.
    assert [e["label"] for e in events] == ["1"] and events[0]["decided"] == 2.0
    assert "1 keyword(s) in 2.0 s of audio" in err and "interrupted (Ctrl-C)" in err


@needs_fsdd
def test_spot_threshold_per_keyword_overrides_the_models_for_the_keywords_named(trained, capsys):
    tmp, model, _ = trained
    names = [f"{d}_{s}_8.wav" for s in SPEAKERS[:3] for d in KEYWORDS]
    clips = [sf.read(RECORDINGS / name, dtype="float32")[0] for name in names]
    clips = [0.05 * c / np.sqrt(np.mean(c**2)) for c in clips]
    y, _ = make_stream(clips, [n[0] for n in names], sr=8000, snr_db=10, random_state=4)
    path = tmp / "per_keyword.wav"
    sf.write(path, y, 8000, subtype="FLOAT")
    argv = ["spot", "--model", str(model), str(path), "--json"]
    assert kws.main([*argv, "--threshold", "0.5"]) == 0
    expected = json.loads(capsys.readouterr().out)
    tops = {}
    for e in expected:
        tops[e["label"]] = max(tops.get(e["label"], 0.0), e["score"])
    assert len(tops) >= 2
    quiet = min(tops, key=tops.get)
    raised = f"{quiet}={min(1.0, tops[quiet] + 1e-3)}"
    # Named alone, the keyword gets its own; the others keep the model's (0.8).
    assert kws.main([*argv, "--threshold", raised]) == 0
    events = json.loads(capsys.readouterr().out)
    assert quiet not in {e["label"] for e in events} and events
    assert all(e["score"] >= 0.8 for e in events)
    assert (
        kws.main(["spot", "--model", str(model), "--stream", str(path), "--threshold", raised])
        == 0
    )
    streamed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [{k: e[k] for k in ("start", "end", "label", "score")} for e in streamed] == events
    with pytest.raises(SystemExit, match="names 'x', which is not among the keywords of"):
        kws.main([*argv, "--threshold", "x=0.5"])
    for bad in ("1.5", "a=", "=0.5", "0=0.5,0=0.6", "high"):
        with pytest.raises(SystemExit):
            kws.main([*argv, "--threshold", bad])
        assert "--threshold" in capsys.readouterr().err


@needs_fsdd
def test_spot_draws_the_recording_with_spotted_and_reference_words(trained, capsys):
    pytest.importorskip("matplotlib")
    tmp, model, _ = trained
    names = ["2_theo_5.wav", "0_lucas_6.wav", "3_george_7.wav"]
    clips = [sf.read(RECORDINGS / name, dtype="float32")[0] for name in names]
    y, truth = make_stream(clips, [n[0] for n in names], sr=8000, random_state=0)
    recording, reference = tmp / "three.wav", tmp / "three.json"
    sf.write(recording, y, 8000, subtype="FLOAT")
    reference.write_text(json.dumps(truth))
    plots = tmp / "spot_plots"
    argv = ["spot", "--model", str(model), str(recording), "--json", "--plots", str(plots)]
    assert kws.main([*argv, "--reference", str(reference)]) == 0
    assert json.loads(capsys.readouterr().out)  # words were found
    assert_png(plots / "three_spot.png")
    with pytest.raises(SystemExit, match="--reference is drawn in the plot"):
        kws.main(["spot", "--model", str(model), str(recording), "--reference", str(reference)])
    reference.write_text('[{"start": 1}]')
    with pytest.raises(SystemExit, match="expected a JSON list"):
        kws.main([*argv, "--reference", str(reference)])


def test_plots_without_matplotlib_name_the_extra(monkeypatch, tmp_path):
    from sklstm.audio import plot_keywords

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(SystemExit, match=r"pip install 'sklstm\[plots\]'"):
        kws.main(["evaluate", "--model", "none", "--data", ".", "--plots", str(tmp_path)])
    with pytest.raises(ImportError, match=r"sklstm\[plots\]"):
        plot_keywords(np.zeros(10), sr=8000, events=[])


# -- interruptions and resuming -------------------------------------------------------
# Ctrl-C is a real SIGINT sent at a chosen step (tests/_ctrl_c.py), never from a timer.


def _ctrl_c_during_training(monkeypatch, hook, epoch):
    original = _spotter._training_callbacks
    monkeypatch.setattr(
        _spotter, "_training_callbacks", lambda **kw: original(**kw) + [CtrlCAt(hook, epoch)]
    )


@needs_fsdd
def test_ctrl_c_between_epochs_saves_the_model_and_resume_ends_as_an_uninterrupted_run(
    tiny_dir, tmp_path, monkeypatch, capsys
):
    model = tmp_path / "run" / "kws.sklstm"
    checkpoint = tmp_path / "run" / "kws.sklstm.ckpt"
    argv = ["train", "--data", str(tiny_dir), *TINY]
    _ctrl_c_during_training(monkeypatch, "epoch_begin", 3)
    assert kws.main([*argv, "--model", str(model)]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "interrupted after epoch 2 of 5: the model trained so far is saved to" in err
    assert "--resume" in err
    partial = _pipeline(model)
    assert partial[-1].n_iter_ == 2 and partial[-1].interrupted_
    assert load_checkpoint(checkpoint).n_iter_ == 2
    clips = [str(p) for p in sorted(tiny_dir.iterdir())[:12]]
    assert partial.predict(clips).shape == (12,)  # a usable model

    assert kws.main([*argv, "--model", str(model), "--resume"]) == 0
    assert not checkpoint.exists()
    uninterrupted = tmp_path / "uninterrupted.sklstm"
    assert kws.main([*argv, "--model", str(uninterrupted)]) == 0
    resumed, reference = _pipeline(model), _pipeline(uninterrupted)
    assert resumed[-1].n_iter_ == reference[-1].n_iter_ == 5
    np.testing.assert_array_equal(resumed.predict_proba(clips), reference.predict_proba(clips))
    assert model.read_bytes() == uninterrupted.read_bytes()


@needs_fsdd
@pytest.mark.parametrize(
    "hook, epoch, completed",
    [
        ("batch_begin", 3, 2),  # inside an epoch
        ("epoch_end", 3, 2),  # in a callback, after the checkpoint of epoch 3
        ("train_end", 5, 5),  # after the last epoch: once reported as a normal end
    ],
)
def test_ctrl_c_anywhere_in_training_exits_130_with_the_last_completed_epoch(
    tiny_dir, tmp_path, monkeypatch, capsys, hook, epoch, completed
):
    model = tmp_path / "kws.sklstm"
    _ctrl_c_during_training(monkeypatch, hook, epoch)
    assert kws.main(["train", "--data", str(tiny_dir), "--model", str(model), *TINY]) == 130
    err = capsys.readouterr().err
    assert f"interrupted after epoch {completed} of 5: the model trained so far" in err
    assert "model saved to" not in err and "Traceback" not in err
    classifier = _pipeline(model)[-1]
    assert classifier.n_iter_ == completed and classifier.interrupted_
    # The checkpoint is kept, at least as far as the model.
    assert load_checkpoint(tmp_path / "kws.sklstm.ckpt").n_iter_ >= completed


@needs_fsdd
def test_ctrl_c_during_a_checkpoint_write_keeps_the_previous_checkpoint(
    tiny_dir, tmp_path, monkeypatch, capsys
):
    model = tmp_path / "kws.sklstm"
    ctrl_c_at_write(monkeypatch, ".ckpt", nth=3)
    assert kws.main(["train", "--data", str(tiny_dir), "--model", str(model), *TINY]) == 130
    assert "interrupted after epoch 2 of 5" in capsys.readouterr().err
    assert _pipeline(model)[-1].n_iter_ == 2
    assert load_checkpoint(tmp_path / "kws.sklstm.ckpt").n_iter_ == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kws.sklstm", "kws.sklstm.ckpt", "tiny"]


@needs_fsdd
def test_ctrl_c_during_the_final_save_writes_no_model(tiny_dir, tmp_path, monkeypatch, capsys):
    model = tmp_path / "kws.sklstm"
    ctrl_c_at_write(monkeypatch, ".sklstm")
    assert kws.main(["train", "--data", str(tiny_dir), "--model", str(model), *TINY]) == 130
    err = capsys.readouterr().err
    assert f"interrupted while saving: {model} was not written; " in err
    assert "holds the last completed epoch" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kws.sklstm.ckpt", "tiny"]
    assert load_checkpoint(tmp_path / "kws.sklstm.ckpt").n_iter_ == 5


@needs_fsdd
def test_ctrl_c_before_the_first_epoch_saves_nothing(tiny_dir, tmp_path, monkeypatch, capsys):
    _ctrl_c_during_training(monkeypatch, "batch_begin", 1)
    model = tmp_path / "kws.sklstm"
    assert kws.main(["train", "--data", str(tiny_dir), "--model", str(model), *TINY]) == 130
    assert "before a first epoch ended: no model saved" in capsys.readouterr().err
    assert not model.exists()


def _ctrl_c_on_call(monkeypatch, module, name, nth=1):
    """Press Ctrl-C when ``module.name`` is called for the ``nth`` time."""
    original, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth:
            ctrl_c()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


@needs_fsdd
def test_ctrl_c_while_reading_the_clips_stops_with_one_line(
    tiny_dir, tmp_path, monkeypatch, capsys
):
    _ctrl_c_on_call(monkeypatch, _kws_data, "load_clips")  # train reads through it
    model = tmp_path / "kws.sklstm"
    assert kws.main(["train", "--data", str(tiny_dir), "--model", str(model), *TINY]) == 130
    assert capsys.readouterr().err.strip() == "interrupted (Ctrl-C) during train: stopped."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


@needs_fsdd
def test_ctrl_c_during_a_grid_search_stops_it_without_a_model(
    tiny_dir, tmp_path, monkeypatch, capsys
):
    from sklstm._training import SequenceNet

    _ctrl_c_on_call(monkeypatch, SequenceNet, "get_loss", nth=40)  # in the 2nd or 3rd fit
    model = tmp_path / "kws.sklstm"
    argv = ["train", "--data", str(tiny_dir), "--model", str(model), *TINY, "--search"]
    assert kws.main(argv) == 130
    assert "interrupted during the grid search: no model saved." in capsys.readouterr().err
    assert not model.exists()


@needs_fsdd
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_ctrl_c_while_using_a_model_writes_nothing(
    trained, tiny_dir, tmp_path, monkeypatch, capsys, command
):
    _, model, _ = trained
    _ctrl_c_on_call(monkeypatch, kws, "load_clips")
    clips = [str(p) for p in sorted(tiny_dir.iterdir())[:3]]
    where = ["--data", str(tiny_dir)] if command == "evaluate" else clips
    argv = [command, "--model", str(model), *where, "--json"]
    if command == "evaluate":
        argv += ["--plots", str(tmp_path / "plots")]
    assert kws.main(argv) == 130
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == f"interrupted (Ctrl-C) during {command}: stopped."
    assert not (tmp_path / "plots").exists()


@needs_fsdd
def test_resume_refuses_what_it_cannot_continue(tiny_dir, tmp_path, monkeypatch):
    model = tmp_path / "kws.sklstm"
    argv = ["train", "--data", str(tiny_dir), "--model", str(model), *TINY]
    with pytest.raises(SystemExit, match="no checkpoint at .*kws.sklstm.ckpt to resume from"):
        kws.main([*argv, "--resume"])
    with pytest.raises(SystemExit, match="--resume needs a checkpoint"):
        kws.main([*argv, "--resume", "--no-checkpoint"])
    # A checkpoint of a run with 8 units cannot continue as one with 16.
    checkpoint = tmp_path / "kws.sklstm.ckpt"
    kws.main([*argv, "--epochs", "1", "--checkpoint", str(tmp_path / "one.ckpt")])
    assert not (tmp_path / "one.ckpt").exists()
    _ctrl_c_during_training(monkeypatch, "epoch_begin", 2)
    assert kws.main(argv) == 130
    monkeypatch.undo()
    assert checkpoint.exists()
    with pytest.raises(SystemExit, match="other settings .*hidden_size=8"):
        kws.main([*argv, "--resume", "--hidden-size", "16"])
    other = link_clips(tmp_path / "other", (12,), keywords=("0", "1", "2"))
    with pytest.raises(SystemExit, match="cannot resume.*other data"):
        kws.main(["train", "--data", str(other), "--model", str(model), *TINY, "--resume"])


# -- bad files ------------------------------------------------------------------------


@needs_fsdd
def test_train_and_evaluate_use_every_good_file_and_list_the_bad_ones(tiny_dir, tmp_path, capsys):
    real, _ = sf.read(RECORDINGS / "1_theo_20.wav", dtype="float32")
    sf.write(tiny_dir / "1_stereo_0.wav", np.stack([real, 0.5 * real], axis=1), 8000)
    sf.write(tiny_dir / "2_resampled_0.wav", resample(real, orig_sr=8000, target_sr=16000), 16000)
    sf.write(tiny_dir / "0_nosamples_0.wav", np.zeros(0), 8000)
    (tiny_dir / "1_empty_0.wav").write_bytes(b"")
    (tiny_dir / "2_text_0.wav").write_text("not a recording\n")
    (tiny_dir / "0_truncated_0.wav").write_bytes(
        (RECORDINGS / "0_theo_20.wav").read_bytes()[:3000]
    )
    sf.write(tiny_dir / "1_nan_0.wav", np.array([0.1, np.nan] * 800), 8000, subtype="FLOAT")
    reasons = {
        "0_nosamples_0.wav": "the file holds no samples",
        "1_empty_0.wav": "the file is empty (0 bytes)",
        "2_text_0.wav": "not a readable audio file",
        "0_truncated_0.wav": "the file is truncated",
        "1_nan_0.wav": "the file holds NaN or infinite samples",
    }
    model = tmp_path / "kws.sklstm"
    assert kws.main(["train", "--data", str(tiny_dir), "--model", str(model), *TINY]) == 1
    err = capsys.readouterr().err
    assert "5 file(s) could not be processed" in err
    for name, reason in reasons.items():
        assert f"{tiny_dir / name}: {reason}" in err
    assert sklstm.load(model)["trained_on"]["n_clips"] == 38  # 36 + stereo + 16 kHz

    argv = ["evaluate", "--model", str(model), "--data", str(tiny_dir), "--json"]
    assert kws.main(argv) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_clips"] == 38
    assert all(f"{tiny_dir / name}: {reason}" in captured.err for name, reason in reasons.items())


def test_find_clips_in_both_layouts(tmp_path):
    fsdd = tmp_path / "fsdd" / "recordings"
    fsdd.mkdir(parents=True)
    for name in ("7_theo_3.wav", "0_lucas_12.wav", "README.md"):
        (fsdd / name).write_bytes(b"")
    paths, labels, groups, noises = _kws_data.find_clips(tmp_path / "fsdd")
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
    paths, labels, groups, noises = _kws_data.find_clips(sc)
    assert labels == ["no", "yes", "yes"] and groups == ["a1b2", "a1b2", "c3d4"]
    assert [n.name for n in noises] == ["white_noise.wav"]

    with pytest.raises(SystemExit, match="no audio clips"):
        _kws_data.find_clips(tmp_path / "speech_commands" / "empty")
    with pytest.raises(SystemExit, match="is not a directory"):
        _kws_data.find_clips(tmp_path / "nowhere")


def test_crossval_leaves_out_only_the_speakers_asked_for(monkeypatch):
    from pipelines import _kws_validation

    trained_without = []
    groups = np.array(["george", "george", "theo", "theo", "lucas", "lucas"])

    class Spotter:
        def __init__(self, **params):
            assert params["copies"] == 3
            self.pipeline_ = None

        def fit(self, X, y, *, noises):
            # Each clip's samples hold its index: whose clips were trained on.
            trained_without.append(sorted(set(groups) - {groups[int(x[0])] for x in X}))
            return self

    monkeypatch.setattr(_kws_validation, "make_spotter", Spotter)
    scores = dict.fromkeys(["accuracy", "accuracy_10db", "accuracy_0db"], 0.5)
    scores.update(spot_f1_silence=1.0, spot_f1_10db=1.0)
    monkeypatch.setattr(_kws_validation, "score_split", lambda *a, **k: dict(scores))
    waves = [np.full(800, k, dtype=np.float32) for k in range(6)]
    labels = np.array(["0", "1"] * 3)
    paths = [Path(f"{y}_{g}_{i}.wav") for i, (y, g) in enumerate(zip(labels, groups))]
    common = dict(sr=8000, splits=("speakers",), test_indices={5}, copies=3)
    results = _kws_validation.validate(
        waves, labels, groups, [], paths, speakers=["theo", "george"], **common
    )
    assert trained_without == [["theo"], ["george"]]
    assert list(results) == ["speaker theo", "speaker george", "speakers mean"]
    with pytest.raises(SystemExit, match="--speakers nobody: no such speaker"):
        _kws_validation.validate(waves, labels, groups, [], paths, speakers=["nobody"], **common)


def test_background_clips():
    noise = np.ones(50000, dtype=np.float32)
    clips = make_background(30, sr=8000, lengths=[4000, 6000], noises=[noise], random_state=0)
    assert len(clips) == 30 and all(c.dtype == np.float32 for c in clips)
    assert all(2800 <= len(c) <= 9000 for c in clips)
    assert all(np.all(c == 1.0) for c in clips[2::3])  # excerpts of the noise recording
    levels = [10 * np.log10(np.mean(c.astype(float) ** 2) + 1e-20) for c in clips[1::3]]
    assert all(-41 < level < -9 for level in levels)


def test_babble_overlays_talkers_at_the_clips_power():
    rng = np.random.RandomState(0)
    clips = [0.1 * rng.randn(rng.randint(2000, 6000)).astype(np.float32) for _ in range(20)]
    babble = make_babble(clips, 3, sr=8000, duration=2.0, random_state=0)
    assert len(babble) == 3 and all(b.shape == (16000,) and b.dtype == np.float32 for b in babble)
    power = np.mean([np.mean(np.square(c, dtype=np.float64)) for c in clips])
    for b in babble:
        np.testing.assert_allclose(np.mean(np.square(b, dtype=np.float64)), power, rtol=1e-4)
    np.testing.assert_array_equal(make_babble(clips, 3, sr=8000, duration=2.0, random_state=0)[1],
                                  babble[1])  # fmt: skip
    with pytest.raises(ValueError, match="talkers must be a range"):
        make_babble(clips, 1, sr=8000, talkers=(0, 0))
    with pytest.raises(ValueError, match="needs speech clips"):
        make_babble([], 1, sr=8000)


def test_band_energies_find_a_word_that_total_power_misses_in_white_noise():
    sr = 8000
    rng = np.random.RandomState(0)
    y = 0.1 * rng.randn(5 * sr)
    # A 0.4-s "vowel" at 500 Hz, 3 dB below the noise's total power: it adds
    # 1.8 dB to the frames' total power, but towers over the noise in its band.
    t = np.arange(int(0.4 * sr)) / sr
    y[2 * sr : 2 * sr + len(t)] += np.sqrt(2 * 0.01 * 10**-0.3) * np.sin(2 * np.pi * 500 * t)
    total = speech_segments(y, sr=sr, bands=None, margin_db=6.0)
    banded = speech_segments(y, sr=sr)
    assert len(total) == 0
    assert len(banded) == 1 and banded[0, 0] / sr < 2.0 < 2.4 < banded[0, 1] / sr < 2.8
    with pytest.raises(ValueError, match="bands must be None or an integer of at least 4"):
        speech_segments(y, sr=sr, bands=2)


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
        classes_ = np.array(["go", "stop", BACKGROUND])

        def __init__(self, proba):
            self.proba = np.array(proba)

        def predict_proba(self, X):
            assert len(X) == 2
            return self.proba

    events = spot_keywords(
        Fixed([[0.9, 0.1, 0.0], [0.4, 0.3, 0.3]]), y, sr=sr, background_label=BACKGROUND
    )
    assert [(e["label"], e["score"]) for e in events] == [("go", 0.9)]  # 0.4 < threshold
    events = spot_keywords(
        Fixed([[0.1, 0.1, 0.8], [0.2, 0.7, 0.1]]), y, sr=sr, background_label=BACKGROUND
    )
    assert [e["label"] for e in events] == ["stop"]  # background rejected
    assert spot_keywords(Fixed([]), np.zeros(sr), sr=sr, background_label="x") == []


@needs_fsdd
def test_ctrl_c_during_a_search_stops_it_without_a_model(tiny_dir, tmp_path, monkeypatch, capsys):
    from skorch.callbacks import Callback

    class CtrlC(Callback):
        """Ctrl-C as the user sends it: SIGINT, at the end of the first epoch."""

        def on_epoch_end(self, net, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)

    original = _spotter._training_callbacks
    monkeypatch.setattr(_spotter, "_training_callbacks", lambda **kw: original(**kw) + [CtrlC()])
    model = tmp_path / "kws.sklstm"
    argv = ["train", "--data", str(tiny_dir), "--model", str(model), *TINY, "--search"]
    assert kws.main(argv) == 130
    assert "interrupted during the grid search: no model saved" in capsys.readouterr().err
    assert not model.exists()


@needs_fsdd
def test_noise_folders_feed_the_background_class_and_the_noisy_copies(tiny_dir, tmp_path):
    noise_dir = tmp_path / "noise" / "street"
    noise_dir.mkdir(parents=True)
    rng = np.random.RandomState(0)
    sf.write(
        noise_dir / "hum.wav", 0.05 * np.sin(np.arange(40000) / 7) + 0.01 * rng.randn(40000), 16000
    )  # fmt: skip  (another rate: resampled on reading)
    argv = ["train", "--data", str(tiny_dir), *TINY, "--no-checkpoint"]
    with_noise, without = tmp_path / "with.sklstm", tmp_path / "without.sklstm"
    assert kws.main([*argv, "--model", str(with_noise), "--noise", str(tmp_path / "noise")]) == 0
    assert kws.main([*argv, "--model", str(without)]) == 0
    assert with_noise.read_bytes() != without.read_bytes()
    with pytest.raises(SystemExit, match="--noise .*nowhere is not a directory"):
        kws.main([*argv, "--model", "m", "--noise", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="--noise .*empty holds no audio file"):
        kws.main([*argv, "--model", "m", "--noise", str(tmp_path / "empty")])


def test_bad_training_options_are_refused_before_any_clip_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(_kws_data, "find_clips", None)  # must not be reached
    argv = ["train", "--data", str(tmp_path), "--model", str(tmp_path / "m"), "--no-checkpoint"]
    with pytest.raises(SystemExit, match="^error: The 'threshold' parameter"):
        kws.main([*argv, "--threshold", "2"])
    with pytest.raises(SystemExit, match="^error: The 'n_copies' parameter"):
        kws.main([*argv, "--copies", "-1"])
    with pytest.raises(SystemExit, match="leave --test-speeds out"):
        kws.main([*argv, "--causal", "--test-speeds", "0.9"])
    for bad in ("3", "fast", "0.9,"):
        with pytest.raises(SystemExit):
            kws.main([*argv, "--test-speeds", bad])
    # What the spotter is built with.
    built = []

    def make(**params):
        built.append(params)
        raise SystemExit("built")

    monkeypatch.setattr(kws, "make_spotter", make)
    for option, speeds in (
        (["--test-speeds", "none"], ()),
        (["--test-speeds", "0.9,1.1"], (0.9, 1.1)),
    ):
        with pytest.raises(SystemExit, match="built"):
            kws.main([*argv, *option])
        assert built[-1]["test_speeds"] == speeds
    with pytest.raises(SystemExit, match="built"):
        kws.main(argv)
    assert "test_speeds" not in built[-1]  # the library's default


@needs_fsdd
def test_commands_refuse_a_model_of_another_application(tmp_path):
    from pipelines._cli import save_model

    other = tmp_path / "ecg.sklstm"
    save_model({"model": None, "extract": {}, "lead": "MLII"}, other)
    with pytest.raises(SystemExit, match="ecg.sklstm is not a keyword-spotting model"):
        kws.main(["predict", "--model", str(other), str(RECORDINGS / "1_theo_7.wav")])


@pytest.mark.parametrize("command", ["train", "crossval"])
def test_the_epochs_help_states_the_spotters_default(command, capsys):
    from sklstm.audio import KeywordSpotter

    with pytest.raises(SystemExit):
        kws.main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"--epochs EPOCHS epochs ({KeywordSpotter().max_iter})" in help_text
