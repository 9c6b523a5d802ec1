"""The arrhythmia application end to end on three real records: train, evaluate, annotate."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb
from _ctrl_c import CtrlCAt, ctrl_c, ctrl_c_at_write
from _ecg_data import MITDB, concatenate_records, requires_mitdb, resample_record

import sklstm
from pipelines import ecg_arrhythmia as ecg_app
from pipelines._ecg_models import from_old_file
from pipelines.ecg_arrhythmia import main, summarize
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint
from sklstm.ecg import (
    AAMI_CLASSES,
    PAST_RR_RATIOS,
    ArrhythmiaClassifier,
    ArrhythmiaTagger,
    detect_r_peaks,
    filter_ecg,
    match_beats,
    read_beats,
    read_record,
)

pytestmark = requires_mitdb

# 119: ventricular bigeminy; 209 and 220: atrial premature beats.
TRAIN = ["119", "209", "220"]
FAST = ["--max-iter", "4", "--hidden-size", "16", "--threads", "1"]


def _classifier(path):
    """The model that `train` saved to ``path`` (ArrhythmiaClassifier or ArrhythmiaTagger)."""
    return sklstm.load(path)["arrhythmia_classifier"]


def _network(path):
    """The LSTMClassifier of the (single) model saved to ``path``."""
    (member,) = _classifier(path).estimators_
    return member.steps[-1][1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "ecg.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", *TRAIN, "--model", str(path)]
    assert main(argv + FAST) == 0
    return path


# -- records of other databases: any rate, any lead ------------------------------------


@pytest.mark.parametrize("fs", [128, 200, 250, 500])
def test_a_record_at_another_rate_gets_the_classes_it_gets_at_360_hz(model, tmp_path, fs):
    clf = _classifier(model)
    at_360 = clf.annotate(MITDB / "209").pred
    beats = clf.annotate(resample_record("209", fs, tmp_path))
    assert beats.X.shape == (len(at_360), 132)  # the pair's table: the beat's + its index
    assert np.mean(beats.pred == at_360) >= 0.99


def test_evaluate_and_annotate_a_128_hz_record_whose_leads_are_both_named_ecg(
    model, tmp_path, capsys
):
    path = resample_record("209", 128, tmp_path, sig_names=["ECG", "ECG"])
    where = ["--model", str(model), "--data-dir", str(tmp_path), "--records", path.name]
    # The model's lead (MLII) is absent: the record is listed as bad, with its leads.
    assert main(["evaluate", *where, "--json"]) == 1
    err = capsys.readouterr().err
    assert "no lead named 'MLII' (leads: 0: ECG, 1: ECG)" in err
    assert main(["evaluate", *where, "--lead", "0", "--detect", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["detection"]["se"] >= 0.99 and report["detection"]["ppv"] >= 0.99
    assert report["n_beats"] >= 2990
    out = tmp_path / "out"
    assert main(["annotate", *where, "--lead", "0", "--out-dir", str(out)]) == 0
    capsys.readouterr()
    annotation = wfdb.rdann(str(out / path.name), "pred")
    assert annotation.fs == 128
    reference = wfdb.rdann(str(path), "atr")
    np.testing.assert_array_equal(annotation.sample, reference.sample)


def test_evaluate_json(model, capsys):
    argv = ["evaluate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    assert main(argv + ["209", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_beats"] == 1987 + 3005
    assert report["labels"] == list(AAMI_CLASSES)
    assert set(report["classes"]) == set(AAMI_CLASSES)
    assert report["classes"]["V"]["support"] == 444 + 1  # 209 has one PVC
    assert report["classes"]["S"]["support"] == 383
    assert np.sum(report["confusion_matrix"]) == report["n_beats"]
    assert set(report["per_record"]) == {"119", "209"}
    # Even this 4-epoch model separates 119's bigeminal PVCs from normal beats.
    assert report["classes"]["V"]["se"] > 0.8
    assert "detection" not in report


def test_train_saves_the_library_model_and_files_of_the_former_layout_still_load(
    model, tmp_path, capsys
):
    pair = _classifier(model)  # the default: the tagger with a beat classifier
    assert isinstance(pair, ArrhythmiaTagger) and pair.get_params()["hidden_size"] == 16
    library = ArrhythmiaTagger(
        hidden_size=16, max_iter=4, beat_model=ArrhythmiaClassifier(hidden_size=16, max_iter=4)
    )
    beats = library.load_beats(MITDB, TRAIN)
    X = library.read_beats(MITDB / "209").X
    np.testing.assert_allclose(
        library.fit(beats.X, beats.y).predict_proba(X), pair.predict_proba(X), atol=1e-6
    )
    clf, X = pair.beat_model_, X[:, :-1]
    # Before the library had the model, `train` saved its pipeline, settings and lead.
    old = tmp_path / "old.model"
    extract = {k: v for k, v in clf.extract_params().items() if k != "local"}
    sklstm.save({"model": clf.estimators_[0], "extract": extract, "lead": "MLII"}, old)
    assert from_old_file(sklstm.load(old)).get_params() == clf.get_params()
    bare = tmp_path / "bare.model"  # saved from Python, without the dict
    sklstm.save(clf, bare)
    reports = []
    for path in (old, bare):
        argv = ["evaluate", "--model", str(path), "--data-dir", str(MITDB), "--records", "209"]
        assert main(argv + ["--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1]
    expected = clf.annotate(MITDB / "209")
    assert reports[0]["accuracy"] == pytest.approx(np.mean(expected.pred == expected.y))


def test_an_ensemble_trains_saves_and_evaluates(tmp_path, capsys):
    path = tmp_path / "ensemble.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "220", "--model", str(path)]
    argv += ["--kind", "beat", "--ensemble", "2", "--max-iter", "1", "--hidden-size", "4"]
    assert main(argv) == 0
    assert len(_classifier(path).estimators_) == 2
    capsys.readouterr()
    argv = ["evaluate", "--model", str(path), "--data-dir", str(MITDB), "--records", "209"]
    assert main(argv + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_beats"] == 3005


@pytest.mark.parametrize(
    "option, message",
    [
        (["--n-fraction", "0"], "'n_fraction' parameter"),
        (["--hidden-size", "0"], "'hidden_size' parameter"),
        (["--unweighted", "X"], r"unweighted has unknown name\(s\) \['X'\]"),
    ],
)
def test_bad_training_options_are_refused_before_any_record_is_read(
    tmp_path, monkeypatch, option, message
):
    monkeypatch.setattr(ArrhythmiaClassifier, "load_beats", None)  # must not be reached
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "--model", "m", *option]
    with pytest.raises(SystemExit, match=f"^error: .*{message}"):
        main(argv)


def test_evaluate_detect_reports_detection(model, capsys):
    argv = ["evaluate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    assert main(argv + ["--detect", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    d = report["detection"]
    assert d["tp"] + d["fn"] == 1987 and d["se"] >= 0.999 and d["ppv"] >= 0.998
    assert report["n_beats"] == d["tp"]


def test_annotate_writes_wfdb_annotations(model, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["annotate", "--model", str(model), "--data-dir", str(MITDB), "--out-dir", str(out)]
    assert main(argv + ["--records", "119"]) == 0
    ann = wfdb.rdann(str(out / "119"), "pred")
    rec = read_record(MITDB / "119")
    np.testing.assert_array_equal(ann.sample, rec.beat_samples)
    assert set(ann.symbol) <= set(AAMI_CLASSES) and "V" in ann.symbol
    summary = json.loads((out / "119.pred.json").read_text())
    assert summary["n_beats"] == len(ann.sample)
    assert sum(summary["beats_per_class"].values()) == len(ann.sample)
    assert 60 < summary["mean_heart_rate_bpm"] < 75  # 1987 beats in 30 min
    assert "119: 1987 beats" in capsys.readouterr().out

    # With --detect and another extension: one annotation per detected beat.
    assert main(argv + ["--records", "119", "--detect", "--ext", "det"]) == 0
    ann = wfdb.rdann(str(out / "119"), "det")
    expected = detect_r_peaks(filter_ecg(rec.signal, fs=rec.fs), fs=rec.fs)
    np.testing.assert_array_equal(ann.sample, expected)


def test_bad_records_are_listed_and_fail_at_the_end(model, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for ext in ("hea", "dat", "atr"):
        (data / f"119.{ext}").write_bytes((MITDB / f"119.{ext}").read_bytes())
    (data / "300.hea").write_text("300 1 360 1000\n300.dat 212 200 11 1024 0 0 0 MLII\n")
    # A record without annotations: fine with --detect, listed without.
    (data / "301.hea").write_bytes((MITDB / "119.hea").read_bytes().replace(b"119", b"301"))
    (data / "301.dat").write_bytes((MITDB / "119.dat").read_bytes())
    out = tmp_path / "out"
    argv = ["annotate", "--model", str(model), "--data-dir", str(data), "--out-dir", str(out)]
    assert main(argv) == 1
    assert (out / "119.pred").is_file() and not (out / "300.pred").exists()
    err = capsys.readouterr().err
    assert "2 file(s) could not be processed" in err and "300.dat" in err
    assert "301.atr: annotation file not found. Without annotations, use --detect" in err
    assert main(argv + ["--records", "301", "--detect"]) == 0
    assert len(wfdb.rdann(str(out / "301"), "pred").sample) > 1900


def test_monitor_prints_each_beat_as_annotate_classifies_it_after_the_lookahead(
    model, tmp_path, capsys
):
    # Two minutes of record 209 (atrial premature beats) at 250 Hz, as a recorder
    # would deliver them: the monitor reads the file in 100-ms chunks.
    path = resample_record("209", 250, tmp_path)
    signal = wfdb.rdrecord(str(path)).p_signal[: 250 * 120]
    wfdb.wrsamp("short", fs=250, units=["mV", "mV"], sig_name=["MLII", "V1"],
                p_signal=signal, fmt=["16", "16"], write_dir=str(tmp_path))  # fmt: skip
    argv = ["monitor", "--model", str(model), "--data-dir", str(tmp_path), "--records", "short"]
    assert main(argv + ["--lookahead", "5", "--history", "60", "--interval", "2"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert set(lines[0]) == {"record", "sample", "time_s", "class", "probability", "latency_s"}
    offline = _classifier(model).annotate(tmp_path / "short", detect=True)
    samples = np.array([line["sample"] for line in lines])
    ref, det = match_beats(offline.samples, samples, tolerance=0.15 * 250)
    assert len(ref) >= 0.99 * len(offline.samples) and len(samples) <= len(offline.samples) + 2
    classes = np.array([line["class"] for line in lines])
    assert np.mean(classes[det] == offline.pred[ref]) >= 0.95
    live = [line["latency_s"] for line in lines if line["sample"] < 250 * 110]
    assert min(live) > 5 and max(live) <= 7  # the lookahead, plus up to the interval
    assert f"short: {len(lines)} beats (" in captured.err and "latency p50" in captured.err
    assert "a model trained with --causal decides each within a second" not in captured.err
    # Settings the monitor cannot run with are refused before any record is read.
    with pytest.raises(SystemExit, match="lookahead must be at least 0.5 s"):
        main(argv + ["--lookahead", "0.4"])
    # A header that gives no signal length (allowed by WFDB): the lead is read
    # whole, with the same beats. A record with too little signal for any beat is
    # listed as bad, and the others still processed.
    header = (tmp_path / "short.hea").read_text().splitlines()
    assert header[0] == "short 2 250 30000"
    (tmp_path / "nolength.hea").write_text("\n".join(["nolength 2 250", *header[1:]]) + "\n")
    (tmp_path / "nolength.dat").write_bytes((tmp_path / "short.dat").read_bytes())
    wfdb.wrsamp("tiny", fs=250, units=["mV", "mV"], sig_name=["MLII", "V1"],
                p_signal=signal[:100], fmt=["16", "16"], write_dir=str(tmp_path))  # fmt: skip
    argv[-1] = "tiny"
    assert main([*argv, "nolength", "--lookahead", "5", "--history", "60", "--interval", "2"]) == 1
    captured = capsys.readouterr()
    assert "tiny: fewer than two beats detected in 0.4 s" in captured.err
    again = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["sample"] for line in again] == [line["sample"] for line in lines]
    assert [line["class"] for line in again] == [line["class"] for line in lines]
    # With its own defaults, the model's 20-s wait is pointed out, and the way to a second.
    assert main(argv) == 1
    assert "a model trained with --causal decides each within a second" in capsys.readouterr().err


def test_a_causal_model_is_monitored_within_a_second_with_the_classes_of_annotate(
    tmp_path, capsys
):
    path = tmp_path / "causal.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "220", "--model", str(path)]
    tiny = ["--max-iter", "1", "--hidden-size", "4", "--threads", "1"]
    assert main([*argv, "--causal", *tiny]) == 0
    model = _classifier(path)
    assert model.causal and model.beat_model.causal and model.rr == PAST_RR_RATIOS
    # 90 s of record 209 (atrial premature beats), with the monitor's defaults for it.
    signal = wfdb.rdrecord(str(MITDB / "209")).p_signal[: 360 * 90]
    wfdb.wrsamp("short", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"],
                p_signal=signal, fmt=["16", "16"], write_dir=str(tmp_path))  # fmt: skip
    capsys.readouterr()
    data = ["--data-dir", str(tmp_path), "--records", "short"]
    assert main(["monitor", "--model", str(path), *data]) == 0
    captured = capsys.readouterr()
    assert "note:" not in captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    offline = model.annotate(tmp_path / "short", detect=True)
    assert [line["sample"] for line in lines] == offline.samples.tolist()
    assert [line["class"] for line in lines] == offline.pred.tolist()
    # Within a second of signal, but the first beat (it waits for a second one) and
    # those the end of the recording decided.
    live = [line["latency_s"] for line in lines[1:] if line["sample"] < 360 * 89]
    assert len(live) > 90 and min(live) >= 0.5 and max(live) <= 1.0
    # Given settings still override the model's; checked against its other defaults.
    with pytest.raises(SystemExit, match=r"interval must be at most lookahead .*defaults, "
                       r"for the settings not given: --lookahead 0.5 --history 300"):  # fmt: skip
        main(["monitor", "--model", str(path), *data, "--interval", "2"])


def test_summary_figures():
    fs = 360.0
    samples = np.arange(11) * 360  # one beat a second: 60 bpm
    classes = np.array(["N"] * 8 + ["V", "S", "N"])
    s = summarize(samples, classes, fs)
    assert s["beats_per_class"] == {"N": 9, "S": 1, "V": 1, "F": 0, "Q": 0}
    assert s["ectopic_burden_percent"] == pytest.approx(200 / 11)
    assert s["mean_heart_rate_bpm"] == pytest.approx(60.0)


def test_train_search_groups_by_record(tmp_path, capsys):
    path = tmp_path / "searched.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", *TRAIN, "--model", str(path)]
    assert main(argv + ["--search", "--folds", "3", "--max-iter", "1", "--threads", "1"]) == 0
    assert "best {" in capsys.readouterr().out and path.is_file()


def test_search_grids_of_the_pair_and_the_tagger(tmp_path, capsys):
    path = tmp_path / "searched.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", *TRAIN, "--model", str(path)]
    argv += ["--search", "--folds", "3", "--max-iter", "1", "--hidden-size", "4"]
    for kind, key in (("both", "'beat_model__static'"), ("rhythm", "'window_step'")):
        assert main(argv + ["--kind", kind]) == 0
        assert key in capsys.readouterr().out
        assert isinstance(_classifier(path), ArrhythmiaTagger)


def test_a_new_run_removes_the_beat_checkpoint_of_an_older_one(tmp_path):
    checkpoint, older = tmp_path / "run.ckpt", tmp_path / "run.ckpt.beat"
    older.write_bytes(b"left by an interrupted pair")
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "220", "--kind", "rhythm"]
    argv += ["--model", str(tmp_path / "m"), "--checkpoint", str(checkpoint), *FAST]
    assert main(argv) == 0
    assert checkpoint.is_file() and not older.exists()


def test_train_without_records_fails_clearly(tmp_path):
    with pytest.raises(SystemExit, match="no readable record"):
        main(["train", "--data-dir", str(tmp_path), "--records", "1", "--model", "m"])


def test_ensemble_goes_with_neither_search_nor_checkpoint():
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "--model", "m"]
    for other in (["--search"], ["--checkpoint", "c"]):
        with pytest.raises(SystemExit, match="--ensemble does not go with"):
            main(argv + ["--ensemble", "2", *other])


def test_rhythm_and_both_kinds_train_evaluate_annotate_and_cross_validate(tmp_path, capsys):
    path = tmp_path / "tagger.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", *TRAIN, "--model", str(path)]
    assert main(argv + ["--kind", "rhythm", *FAST]) == 0
    tagger = _classifier(path)
    assert isinstance(tagger, ArrhythmiaTagger) and tagger.beat_model is None
    assert tagger.max_iter == 4 and tagger.hidden_size == 16 and tagger.weight_power == 1.0
    assert tagger.rr_model == "logistic" and tagger.rr_model_ is not None
    capsys.readouterr()
    data = ["--data-dir", str(MITDB), "--records", "220", "--model", str(path)]
    assert main(["evaluate", *data, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = tagger.annotate(MITDB / "220")
    assert report["accuracy"] == pytest.approx(np.mean(expected.pred == expected.y))
    assert main(["annotate", *data, "--out-dir", str(tmp_path)]) == 0
    written = wfdb.rdann(str(tmp_path / "220"), "pred")
    assert written.symbol == expected.pred.tolist()
    # Both: the tagger and a beat classifier, each with the shared options.
    assert main(argv + ["--kind", "both", "--n-fraction", "1", *FAST]) == 0
    pair = _classifier(path)
    beat = pair.beat_model
    assert isinstance(beat, ArrhythmiaClassifier) and beat.n_fraction == 1
    assert beat.max_iter == pair.max_iter == 4 and beat.weight_power == 0.5
    assert set(pair.predict(pair.load_beats(MITDB, ["119"]).X)) <= {"N", "S", "V"}
    capsys.readouterr()
    cv = ["crossval", "--data-dir", str(MITDB), "--records", *TRAIN, "--folds", "3", "--json"]
    assert main(cv + ["--kind", "both", "--max-iter", "1", "--hidden-size", "4"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    folds = [
        line.split(": records ")[1].split()
        for line in captured.err.splitlines()
        if line.startswith("fold ")
    ]
    assert sorted(sum(folds, [])) == sorted(TRAIN) and len(folds) == 3
    assert report["params"]["n_beats"] == 64
    assert report["params"]["beat_model"]["pooling"] == "last"
    assert report["params"]["rr_model"] == "logistic"
    assert (report["params"]["rr_context"], report["params"]["rr_s_weight"]) == (32, 2 / 3)
    assert report["params"]["rr_reference"] == "mean"
    assert (report["params"]["af_irregularity"], report["params"]["af_coherence"]) == (0.1, 0.2)
    assert main(cv + ["--kind", "rhythm", "--max-iter", "1", "--rr-model", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["rr_model"] is None
    # Round 5's default: no context, the plain average, no atrial fibrillation rule.
    rr = ["--rr-context", "none", "--rr-s-weight", "none", "--af-irregularity", "none"]
    assert main(cv + ["--kind", "rhythm", "--max-iter", "1", *rr]) == 0
    params = json.loads(capsys.readouterr().out)["params"]
    assert (params["rr_model"], params["rr_context"], params["rr_s_weight"]) == (
        "logistic", None, None)  # fmt: skip
    assert params["af_irregularity"] is None
    assert main(cv + ["--kind", "rhythm", "--max-iter", "1", "--af-irregularity", "0.15"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["af_irregularity"] == 0.15
    assert main(cv + ["--kind", "rhythm", "--max-iter", "1", "--rr-reference", "median"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["rr_reference"] == "median"
    assert report["n_beats"] == sum(len(tagger.read_beats(MITDB / r).y) for r in TRAIN)


def test_options_of_a_model_are_refused_with_a_kind_that_has_none():
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "--model", "m"]
    for other in (["--static", "drop"], ["--n-fraction", "1"], ["--ensemble", "2"]):
        with pytest.raises(SystemExit, match=f"{other[0]} set.*--kind rhythm has not"):
            main(argv + ["--kind", "rhythm", *other])
    with pytest.raises(SystemExit, match="--rr-model sets the tagger's RR model, which --kind"):
        main(argv + ["--kind", "beat", "--rr-model", "none"])
    with pytest.raises(SystemExit, match="--rr-context sets the tagger's RR model, which --kind"):
        main(argv + ["--kind", "beat", "--rr-context", "16"])
    with pytest.raises(SystemExit, match="--rr-reference sets .*, which --rr-model none leaves"):
        main(argv + ["--rr-model", "none", "--rr-reference", "median"])
    with pytest.raises(SystemExit, match="--rr-s-weight sets .*, which --rr-model none leaves"):
        main(argv + ["--rr-model", "none", "--rr-s-weight", "0.5"])
    with pytest.raises(SystemExit, match="--af-irregularity sets the tagger's atrial fibril"):
        main(argv + ["--kind", "beat", "--af-irregularity", "0.1"])


@pytest.mark.parametrize(
    "option",
    [
        ["--rr-context", "0"],
        ["--rr-context", "x"],
        ["--rr-s-weight", "1.5"],
        ["--af-irregularity", "-0.1"],
    ],
)
def test_bad_rr_model_options_are_refused_by_the_parser(option, capsys):
    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "--model", "m"]
    with pytest.raises(SystemExit) as exc:
        main(argv + option)
    assert exc.value.code == 2
    assert f"argument {option[0]}" in capsys.readouterr().err


# -- plots ---------------------------------------------------------------------------


def _png(path):
    """The image of a PNG file, after checking it is one."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 100
    return image


@pytest.fixture
def saved_figures(monkeypatch):
    """Every figure saved, by file name (the temporary name of an atomic write)."""
    from matplotlib.figure import Figure

    saved = {}
    original = Figure.savefig

    def spy(self, fname, *args, **kwargs):
        saved[str(fname)] = self
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return saved


def test_evaluate_plots_confusion_matrix_and_strips(model, tmp_path, capsys, saved_figures):
    plots = tmp_path / "plots"
    argv = ["evaluate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    assert main(argv + ["209", "--json", "--plots", str(plots)]) == 0
    report = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["119.png", "209.png", "confusion_matrix.png"]
    for png in plots.iterdir():
        _png(png)
    # The numbers drawn in the confusion matrix are the JSON's.
    (figure,) = [f for name, f in saved_figures.items() if "confusion_matrix" in name]
    drawn = [int(t.get_text()) for t in figure.axes[0].texts]
    assert drawn == np.ravel(report["confusion_matrix"]).tolist()
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == list(AAMI_CLASSES)
    # 119's strip shows its bigeminy: predicted and reference rows, V among them.
    (strip,) = [f for name, f in saved_figures.items() if "119.png" in name]
    marks = [t.get_text() for t in strip.axes[0].texts]
    assert "predicted " in marks and "reference " in marks and "V" in marks
    assert strip.axes[0].get_title().startswith("record 119, lead MLII")


def test_annotate_and_train_plots(model, tmp_path, saved_figures):
    plots = tmp_path / "plots"
    argv = ["annotate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    assert main(argv + ["--out-dir", str(tmp_path / "out"), "--plots", str(plots)]) == 0
    _png(plots / "119.png")
    (strip,) = saved_figures.values()
    marks = [t.get_text() for t in strip.axes[0].texts]
    assert "predicted " in marks and "reference " not in marks  # no reference in annotate
    assert len(strip.axes[0].lines[0].get_xdata()) == 3600  # 10 s at 360 Hz

    argv = ["train", "--data-dir", str(MITDB), "--records", "119", "--model"]
    argv += [str(tmp_path / "m"), "--max-iter", "2", "--hidden-size", "4", "--threads", "1"]
    assert main(argv + ["--plots", str(plots)]) == 0
    _png(plots / "training_history.png")
    assert not [p for p in plots.iterdir() if p.name.startswith(".")]  # no temporary left


def test_plots_without_matplotlib_fail_first_naming_the_extra(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    argv = ["annotate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    with pytest.raises(SystemExit, match=r"--plots needs matplotlib.*sklstm\[plots\]"):
        main(argv + ["--out-dir", str(tmp_path / "out"), "--plots", str(tmp_path / "p")])
    assert not (tmp_path / "out").exists()  # before any work
    from sklstm.ecg import plot_ecg_strip

    with pytest.raises(ImportError, match=r"sklstm\[plots\]"):
        plot_ecg_strip(np.zeros(10), fs=360, samples=[5], predicted=["N"])


# -- reproducible and atomic outputs, long records -----------------------------------


def test_annotate_twice_gives_identical_files(model, tmp_path):
    argv = ["annotate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    for out in ("a", "b"):
        extra = ["--out-dir", str(tmp_path / out), "--plots", str(tmp_path / out / "plots")]
        assert main(argv + ["208", "--detect"] + extra) == 0
    a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert a == b and len(a) == 6  # .pred, .pred.json, strip, for each record
    for name in a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_a_failed_annotation_write_leaves_the_old_file(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    argv = ["annotate", "--model", str(model), "--data-dir", str(MITDB), "--records", "119"]
    assert main(argv + ["--out-dir", str(out)]) == 0
    before = (out / "119.pred").read_bytes()
    original = wfdb.wrann

    def killed_midway(name, ext, *args, write_dir, **kwargs):
        (Path(write_dir) / f"{name}.{ext}").write_bytes(b"\x00" * 10)  # half written
        raise OSError("killed")

    monkeypatch.setattr(wfdb, "wrann", killed_midway)
    capsys.readouterr()
    assert main(argv + ["--out-dir", str(out), "--detect"]) == 1  # listed, not a traceback
    assert f"{MITDB / '119'}: killed" in capsys.readouterr().err
    monkeypatch.setattr(wfdb, "wrann", original)
    assert (out / "119.pred").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["119.pred", "119.pred.json"]


def test_long_record_in_chunks_gives_the_same_annotations(model, tmp_path):
    # 90 minutes from three records; 10-minute chunks against the record at once.
    data = tmp_path / "data"
    data.mkdir()
    concatenate_records(["119", "208", "203"], data, "long")
    argv = ["annotate", "--model", str(model), "--data-dir", str(data), "--records", "long"]
    for mode in ([], ["--detect"]):
        outputs = []
        for chunk in ("10", "0"):
            out = tmp_path / f"out{chunk}{len(mode)}"
            assert main(argv + mode + ["--out-dir", str(out), "--chunk-minutes", chunk]) == 0
            outputs.append(out)
        chunked, whole = (wfdb.rdann(str(out / "long"), "pred") for out in outputs)
        assert len(whole.sample) > 7800  # 7,922 reference beats
        np.testing.assert_array_equal(chunked.sample, whole.sample)
        assert chunked.symbol == whole.symbol
        assert (outputs[0] / "long.pred").read_bytes() == (outputs[1] / "long.pred").read_bytes()


# -- bad records ---------------------------------------------------------------------


def test_evaluate_lists_every_kind_of_bad_record(model, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()

    def copy(source, name):
        for ext in ("hea", "dat", "atr"):
            content = (MITDB / f"{source}.{ext}").read_bytes()
            if ext == "hea":
                content = content.replace(source.encode(), name.encode())
            (data / f"{name}.{ext}").write_bytes(content)

    for name in ("good", "nodat", "short", "nolead", "noatr", "badatr"):
        copy("119", name)
    (data / "nodat.dat").unlink()
    with open(data / "short.dat", "r+b") as f:
        f.truncate(1000)
    (data / "nolead.hea").write_text((data / "nolead.hea").read_text().replace("MLII", "V2"))
    (data / "noatr.atr").unlink()
    (data / "badatr.atr").write_bytes((data / "badatr.atr").read_bytes()[:101])
    (data / "RECORDS").write_text("good\nnodat\nshort\nnolead\nnoatr\nbadatr\n")
    argv = ["evaluate", "--model", str(model), "--data-dir", str(data), "--json"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert set(report["per_record"]) == {"good"} and report["n_beats"] == 1987
    err = captured.err
    assert "5 file(s) could not be processed" in err
    assert "nodat.dat: signal file named by nodat.hea not found" in err
    assert "short.dat: truncated signal file (1000 bytes" in err
    assert "nolead.hea: no lead named 'MLII' (leads: 0: V2, 1: V1)" in err
    assert "noatr.atr: annotation file not found" in err
    assert "badatr.atr: " in err


# -- interruptions: Ctrl-C, checkpoints and --resume ----------------------------------

RESUMABLE = ["--records", "119", "220", "--n-fraction", "0.3", "--hidden-size", "8"]
RESUMABLE += ["--max-iter", "8", "--threads", "1", "--seed", "3", "--kind", "beat"]


def _proba(path, X):
    return _classifier(path).predict_proba(X)


def _ctrl_c_at(monkeypatch, hook, epoch):
    """Ctrl-C at ``hook`` of ``epoch`` (CtrlCAt), right after the checkpoint's own hook."""

    class CheckpointThenCtrlC(ResumableCheckpoint):
        def initialize(self):
            self.ctrl_c_ = CtrlCAt(hook, epoch)
            return super().initialize()

        def on_train_begin(self, net, **kwargs):
            super().on_train_begin(net, **kwargs)
            self.ctrl_c_.on_train_begin(net, **kwargs)

        def on_epoch_begin(self, net, **kwargs):
            super().on_epoch_begin(net, **kwargs)
            self.ctrl_c_.on_epoch_begin(net, **kwargs)

        def on_batch_begin(self, net, **kwargs):
            super().on_batch_begin(net, **kwargs)
            self.ctrl_c_.on_batch_begin(net, **kwargs)

        def on_epoch_end(self, net, **kwargs):
            super().on_epoch_end(net, **kwargs)
            self.ctrl_c_.on_epoch_end(net, **kwargs)

        def on_train_end(self, net, **kwargs):
            super().on_train_end(net, **kwargs)
            self.ctrl_c_.on_train_end(net, **kwargs)

    monkeypatch.setattr(ecg_app, "ResumableCheckpoint", CheckpointThenCtrlC)


def test_ctrl_c_saves_the_model_and_resume_ends_as_an_uninterrupted_run(
    tmp_path, monkeypatch, capsys
):
    base = ["train", "--data-dir", str(MITDB), *RESUMABLE]
    checkpoint, interrupted = tmp_path / "run.ckpt", tmp_path / "interrupted.model"
    _ctrl_c_at(monkeypatch, "epoch_begin", 3)
    assert main(base + ["--model", str(interrupted), "--checkpoint", str(checkpoint)]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "interrupted (Ctrl-C) after 2 of 8 epochs" in err
    assert f"saved to {interrupted}; resume with --checkpoint {checkpoint} --resume" in err
    assert _network(interrupted).n_iter_ == 2
    assert load_checkpoint(checkpoint).n_iter_ == 2

    resumed, uninterrupted = tmp_path / "resumed.model", tmp_path / "uninterrupted.model"
    resume = ["--model", str(resumed), "--checkpoint", str(checkpoint), "--resume"]
    assert main(base + resume) == 0
    assert main(base + ["--model", str(uninterrupted)]) == 0
    X = read_beats(MITDB / "209").X
    np.testing.assert_array_equal(_proba(resumed, X), _proba(uninterrupted, X))
    assert _network(resumed).n_iter_ == 8


@pytest.mark.parametrize("network", ["tagger", "beat"])
def test_the_pair_resumes_after_ctrl_c_in_either_network(tmp_path, monkeypatch, capsys, network):
    base = ["train", "--data-dir", str(MITDB), *RESUMABLE[:-2], "--max-iter", "4"]
    checkpoint, interrupted = tmp_path / "run.ckpt", tmp_path / "interrupted.model"
    beat_checkpoint = tmp_path / "run.ckpt.beat"
    beat_checkpoint.write_bytes(b"left by an older run")  # a new run removes it first

    class CtrlCInOneNetwork(ResumableCheckpoint):
        def on_epoch_begin(self, net, **kwargs):
            if str(self.path).endswith(".beat") == (network == "beat") and len(net.history) == 3:
                ctrl_c()

    monkeypatch.setattr(ecg_app, "ResumableCheckpoint", CtrlCInOneNetwork)
    assert main(base + ["--model", str(interrupted), "--checkpoint", str(checkpoint)]) == 130
    monkeypatch.undo()
    assert "interrupted (Ctrl-C) after 2" in capsys.readouterr().err
    pair = _classifier(interrupted)
    assert pair.interrupted_ and pair.callbacks is None and pair.beat_model.callbacks is None
    if network == "tagger":
        assert pair.beat_model_ is None and not beat_checkpoint.exists()
    else:
        assert load_checkpoint(checkpoint).n_iter_ == 4
        assert load_checkpoint(beat_checkpoint).n_iter_ == 2

    resumed, uninterrupted = tmp_path / "resumed.model", tmp_path / "uninterrupted.model"
    resume = ["--model", str(resumed), "--checkpoint", str(checkpoint), "--resume"]
    assert main(base + resume) == 0
    assert main(base + ["--model", str(uninterrupted)]) == 0
    X = ArrhythmiaTagger().read_beats(MITDB / "209").X
    np.testing.assert_array_equal(_proba(resumed, X), _proba(uninterrupted, X))
    assert not _classifier(resumed).interrupted_


@pytest.mark.parametrize(
    "hook, epoch, completed",
    [("batch_begin", 3, 2), ("epoch_end", 3, 2), ("train_end", 8, 8)],
)
def test_ctrl_c_anywhere_in_training_exits_130_with_the_last_completed_epoch(
    tmp_path, monkeypatch, capsys, hook, epoch, completed
):
    model, checkpoint = tmp_path / "m", tmp_path / "run.ckpt"
    _ctrl_c_at(monkeypatch, hook, epoch)
    argv = ["train", "--data-dir", str(MITDB), *RESUMABLE, "--model", str(model)]
    assert main(argv + ["--checkpoint", str(checkpoint)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted (Ctrl-C) after {completed} of 8 epochs" in err
    classifier = _network(model)
    assert classifier.n_iter_ == completed and classifier.interrupted_


def test_ctrl_c_while_saving_or_reading_writes_nothing(tmp_path, monkeypatch, capsys):
    model, checkpoint = tmp_path / "m.sklstm", tmp_path / "run.ckpt"
    argv = ["train", "--data-dir", str(MITDB), *RESUMABLE, "--model", str(model)]
    ctrl_c_at_write(monkeypatch, ".sklstm")
    assert main(argv + ["--checkpoint", str(checkpoint)]) == 130
    assert f"interrupted while saving: {model} was not written; " in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]
    monkeypatch.undo()

    original = ArrhythmiaClassifier.load_beats

    def load_beats(*args, **kwargs):
        ctrl_c()
        return original(*args, **kwargs)

    monkeypatch.setattr(ArrhythmiaClassifier, "load_beats", load_beats)
    checkpoint.unlink()
    assert main(argv) == 130
    assert capsys.readouterr().err.strip() == "interrupted (Ctrl-C) during train: stopped."
    assert not any(tmp_path.iterdir())


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    base = ["train", "--data-dir", str(MITDB), *RESUMABLE, "--model", str(tmp_path / "m")]
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(SystemExit, match="--resume needs --checkpoint"):
        main(base + ["--resume"])
    with pytest.raises(SystemExit, match="run.ckpt does not exist"):
        main(base + ["--checkpoint", str(checkpoint), "--resume"])
    (tmp_path / "m").unlink(missing_ok=True)
    short = base + ["--max-iter", "1"]  # the last one counts
    assert main(short + ["--checkpoint", str(checkpoint)]) == 0
    with pytest.raises(SystemExit, match=r"other training settings: hidden_size=8 \(now 16\)"):
        main(short + ["--checkpoint", str(checkpoint), "--resume", "--hidden-size", "16"])
    with pytest.raises(SystemExit, match="cannot resume .*other data"):
        main(short + ["--checkpoint", str(checkpoint), "--resume", "--n-fraction", "0.4"])
    with pytest.raises(SystemExit, match="not an sklstm checkpoint"):
        main(base + ["--checkpoint", str(tmp_path / "m"), "--resume"])


def test_ctrl_c_while_annotating_leaves_only_whole_files(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    ctrl_c_at_write(monkeypatch, ".json", nth=2)  # the second record's summary
    argv = ["annotate", "--model", str(model), "--data-dir", str(MITDB), "--out-dir", str(out)]
    assert main(argv + ["--records", "119", "209", "220"]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "interrupted (Ctrl-C) during annotate: stopped."
    assert captured.out.startswith("119: ") and "209: " not in captured.out
    # 119's outputs whole; 209's annotations (written before its summary) whole; no more.
    assert sorted(p.name for p in out.iterdir()) == ["119.pred", "119.pred.json", "209.pred"]
    assert wfdb.rdann(str(out / "209"), "pred").sample.size > 2000


def test_ctrl_c_during_a_search_stops_it_without_a_model(tmp_path, monkeypatch, capsys):
    from sklstm._training import SequenceNet

    original, calls = SequenceNet.get_loss, []

    def get_loss(*args, **kwargs):
        calls.append(1)
        if len(calls) == 20:
            ctrl_c()
        return original(*args, **kwargs)

    monkeypatch.setattr(SequenceNet, "get_loss", get_loss)
    model = tmp_path / "m"
    argv = ["train", "--data-dir", str(MITDB), "--records", *TRAIN, "--model", str(model)]
    assert main(argv + ["--search", "--folds", "3", "--max-iter", "200"]) == 130
    assert "interrupted (Ctrl-C) during train: stopped." in capsys.readouterr().err
    assert not model.exists()


def test_bad_chunk_lengths_and_models_of_another_application_are_refused(tmp_path, capsys):
    argv = ["annotate", "--data-dir", str(MITDB), "--records", "119", "--out-dir", str(tmp_path)]
    for bad in ("0.5", "-1", "nan"):
        with pytest.raises(SystemExit):
            main([*argv, "--model", str(tmp_path / "m"), "--chunk-minutes", bad])
        assert "0 (never) or at least 1 minute" in capsys.readouterr().err
    other = tmp_path / "kws.sklstm"
    sklstm.save({"pipeline": None, "sample_rate": 8000}, other)
    with pytest.raises(SystemExit, match="kws.sklstm is not a heartbeat-classification model"):
        main([*argv, "--model", str(other)])
    assert list(tmp_path.iterdir()) == [other]  # nothing written
