"""R-peak detection on real records, and beat matching."""

import numpy as np
import pytest
from _ecg_data import MITDB, requires_mitdb

from sklstm.ecg import Record, detect_r_peaks, extract_beats, filter_ecg, match_beats, read_record
from sklstm.ecg._metrics import detection_statistics


def test_match_beats_pairs_nearest_once():
    ref, det = match_beats([100, 400, 700, 1000], [60, 95, 410, 760, 990, 1001], tolerance=54)
    assert ref.tolist() == [0, 1, 3] and det.tolist() == [1, 2, 5]
    # 760 is 60 samples from 700: outside 150 ms at 360 Hz.
    assert detection_statistics(4, 6, len(ref)) == {
        "se": 0.75,
        "ppv": 0.5,
        "tp": 3,
        "fn": 1,
        "fp": 3,
    }


def test_no_beats_in_a_flat_line():
    assert detect_r_peaks(np.zeros(3600), fs=360).size == 0
    assert detect_r_peaks(np.ones(100), fs=360).size == 0
    # A constant lead (an electrode off) keeps only rounding noise once filtered.
    flat = filter_ecg(np.full(36000, -0.3), fs=360)
    assert 0 < np.ptp(flat) < 1e-9
    assert detect_r_peaks(flat, fs=360).size == 0


def test_a_flat_record_has_no_beats_to_extract():
    record = Record(
        name="flat",
        signal=np.full(36000, -0.3),
        fs=360.0,
        lead="MLII",
        beat_samples=np.zeros(0, dtype=np.int64),
        beat_symbols=np.zeros(0, dtype=str),
        vf_episodes=np.zeros((0, 2), dtype=np.int64),
    )
    with pytest.raises(ValueError, match="0 beat"):
        extract_beats(record, r_peaks="detect")


# Record 208 is among the hardest of DS1 (multiform PVCs, fusion, noise).
@requires_mitdb
@pytest.mark.parametrize(
    "name, min_se, min_ppv", [("101", 0.999, 0.997), ("119", 0.999, 0.998), ("208", 0.994, 0.996)]
)
def test_detection_on_real_records(name, min_se, min_ppv):
    rec = read_record(MITDB / name)
    detected = detect_r_peaks(filter_ecg(rec.signal, fs=rec.fs), fs=rec.fs)
    ref, det = match_beats(rec.beat_samples, detected, tolerance=0.15 * rec.fs)
    stats = detection_statistics(len(rec.beat_samples), len(detected), len(ref))
    assert stats["se"] >= min_se and stats["ppv"] >= min_ppv, stats
    # The fiducial point lands on the annotated one, not just within 150 ms.
    assert np.median(np.abs(detected[det] - rec.beat_samples[ref])) <= 3
