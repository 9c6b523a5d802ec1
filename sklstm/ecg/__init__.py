"""ECG beats from WFDB records: reading, filtering, R-peak detection, beat sequences,
and the arrhythmia models that classify them (one beat at a time, and each beat in the
context of its record's beats)."""

from ._beats import (
    CAUSAL_BEATS,
    PAST_RR_RATIOS,
    RR_FEATURES,
    RR_RATIOS,
    BeatSequences,
    extract_beats,
    rr_features,
)
from ._classifier import ArrhythmiaClassifier
from ._collection import load_beats, read_beats
from ._detect import detect_r_peaks, match_beats
from ._fibrillation import fibrillation_evidence
from ._filters import ECGFilter, filter_ecg
from ._monitor import ArrhythmiaMonitor
from ._plot import plot_ecg_strip
from ._records import (
    AAMI_CLASSES,
    AAMI_SYMBOLS,
    DS1,
    DS2,
    PACED_RECORDS,
    Record,
    RecordError,
    aami_classes,
    list_records,
    read_record,
    read_signal,
)
from ._tagger import ArrhythmiaTagger

__all__ = [
    "AAMI_CLASSES",
    "AAMI_SYMBOLS",
    "DS1",
    "DS2",
    "PACED_RECORDS",
    "RR_FEATURES",
    "RR_RATIOS",
    "PAST_RR_RATIOS",
    "CAUSAL_BEATS",
    "ArrhythmiaClassifier",
    "ArrhythmiaMonitor",
    "ArrhythmiaTagger",
    "BeatSequences",
    "ECGFilter",
    "Record",
    "RecordError",
    "aami_classes",
    "detect_r_peaks",
    "extract_beats",
    "fibrillation_evidence",
    "filter_ecg",
    "list_records",
    "load_beats",
    "match_beats",
    "plot_ecg_strip",
    "read_beats",
    "read_record",
    "read_signal",
    "rr_features",
]
