"""The arrhythmia application end to end on three real records: train, evaluate, annotate."""

import json

import numpy as np
import pytest
import wfdb
from _ecg_data import MITDB, requires_mitdb

from pipelines.ecg_arrhythmia import main, summarize
from sklstm.ecg import AAMI_CLASSES, detect_r_peaks, filter_ecg, read_record

pytestmark = requires_mitdb

# 119: ventricular bigeminy; 209 and 220: atrial premature beats.
TRAIN = ["119", "209", "220"]
FAST = ["--max-iter", "4", "--hidden-size", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "ecg.model"
    argv = ["train", "--data-dir", str(MITDB), "--records", *TRAIN, "--model", str(path)]
    assert main(argv + FAST) == 0
    return path


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
    assert "301.atr: fewer than two reference beats" in err
    assert main(argv + ["--records", "301", "--detect"]) == 0
    assert len(wfdb.rdann(str(out / "301"), "pred").sample) > 1900


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


def test_train_without_records_fails_clearly(tmp_path):
    with pytest.raises(SystemExit, match="no readable record"):
        main(["train", "--data-dir", str(tmp_path), "--records", "1", "--model", "m"])
