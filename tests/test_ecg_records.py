"""Record reading, lead choice, AAMI classes and the errors for bad records."""

import shutil

import numpy as np
import pytest
from _ecg_data import MITDB, requires_mitdb, resample_record

from sklstm.datasets import fetch_mitdb
from sklstm.ecg import (
    AAMI_SYMBOLS,
    DS1,
    DS2,
    PACED_RECORDS,
    RecordError,
    aami_classes,
    list_records,
    read_record,
)


def test_aami_mapping_is_exact():
    expected = {
        "N": "NLRej",
        "S": "AaJS",
        "V": "VE",
        "F": "F",
        "Q": "/fQ",
    }
    assert AAMI_SYMBOLS == {s: c for c, symbols in expected.items() for s in symbols}
    non_beats = ["+", "~", "|", "!", "[", "]", "x", '"', "(", ")", "p", "t", "u", "^", "`"]
    assert aami_classes(non_beats).tolist() == [""] * len(non_beats)
    assert aami_classes(list("NLRejAaJSVEF/fQ")).tolist() == list("NNNNNSSSSVVFQQQ")


def test_record_lists():
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not set(PACED_RECORDS) & (set(DS1) | set(DS2))


@requires_mitdb
def test_lead_is_chosen_by_name():
    rec = read_record(MITDB / "114")
    assert rec.lead == "MLII" and rec.fs == 360
    v5 = read_record(MITDB / "114", lead="V5")
    assert not np.allclose(rec.signal, v5.signal)
    import wfdb

    raw = wfdb.rdrecord(str(MITDB / "114"))
    assert raw.sig_name == ["V5", "MLII"]
    np.testing.assert_allclose(rec.signal, raw.p_signal[:, 1])
    # Only beats are kept, with their symbols.
    assert set(rec.beat_symbols) <= set(AAMI_SYMBOLS)
    assert len(rec.beat_samples) == len(rec.beat_symbols) == 1879


@requires_mitdb
def test_vf_episodes_of_207():
    rec = read_record(MITDB / "207")
    assert len(rec.vf_episodes) >= 1
    assert np.all(rec.vf_episodes[:, 1] > rec.vf_episodes[:, 0])


@requires_mitdb
def test_errors_name_the_file(tmp_path):
    for ext in ("hea", "dat", "atr"):
        shutil.copy(MITDB / f"101.{ext}", tmp_path / f"101.{ext}")
    with pytest.raises(RecordError, match=r"101\.hea.*no lead named 'V2'"):
        read_record(tmp_path / "101", lead="V2")
    (tmp_path / "101.atr").unlink()
    with pytest.raises(RecordError, match=r"101\.atr: annotation file not found"):
        read_record(tmp_path / "101")
    assert read_record(tmp_path / "101", annotator=None).beat_samples.size == 0
    with open(tmp_path / "101.dat", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(RecordError, match=r"101\.dat: truncated signal file"):
        read_record(tmp_path / "101", annotator=None)
    (tmp_path / "101.dat").unlink()
    with pytest.raises(RecordError, match=r"101\.dat: signal file named by 101\.hea not found"):
        read_record(tmp_path / "101", annotator=None)
    with pytest.raises(RecordError, match=r"999\.hea: header file not found"):
        read_record(tmp_path / "999")


def test_list_records(tmp_path):
    for name in ("b", "a"):
        (tmp_path / f"{name}.hea").write_text("")
    assert list_records(tmp_path) == ["a", "b"]
    (tmp_path / "RECORDS").write_text("b\n\na\n")
    assert list_records(tmp_path) == ["b", "a"]


@requires_mitdb
def test_fetch_mitdb_finds_local_records():
    data = fetch_mitdb(records=["101", "114"], data_home=MITDB.parent, download_if_missing=False)
    assert data.path == MITDB and data.records == ["101", "114"]
    assert fetch_mitdb(data_home=MITDB.parent, download_if_missing=False).records == list(DS1)


def test_fetch_mitdb_offline_error_says_where(tmp_path):
    with pytest.raises(OSError, match=rf"in {tmp_path / 'mitdb'}"):
        fetch_mitdb(records=["100"], data_home=tmp_path, download_if_missing=False)


@requires_mitdb
def test_lead_by_index_when_names_repeat_and_a_clear_message_when_absent(tmp_path):
    path = resample_record("119", 128, tmp_path, sig_names=["ECG", "ECG"])
    with pytest.raises(RecordError, match=r"2 leads are named 'ECG'; choose one by its 0-based"):
        read_record(path, lead="ECG")
    with pytest.raises(RecordError, match=r"no lead named 'MLII' \(leads: 0: ECG, 1: ECG\)"):
        read_record(path)
    with pytest.raises(
        RecordError, match=r"no lead 2; the record has 2 \(leads: 0: ECG, 1: ECG\)"
    ):
        read_record(path, lead=2)
    first, second = read_record(path, lead=0), read_record(path, lead="1")
    assert first.lead == second.lead == "ECG" and first.fs == 128
    assert not np.allclose(first.signal, second.signal)
    mlii = read_record(MITDB / "119")
    # The first lead is 119's MLII, at 128 Hz: about 128/360 of its samples.
    assert abs(len(first.signal) - round(len(mlii.signal) * 128 / 360)) <= 1
    # By index on MIT-BIH: 114 stores MLII second.
    assert read_record(MITDB / "114", lead=1).lead == "MLII"
