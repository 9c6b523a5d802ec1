"""What the arrhythmia application writes: EC57 reports, record summaries, annotation files."""

import os
import tempfile
from pathlib import Path

import numpy as np

from sklstm.ecg import AAMI_CLASSES


def format_report(report):
    """A readable EC57-style report."""
    lines = [f"{report['n_beats']} beats, accuracy {100 * report['accuracy']:.2f}%"]
    if "detection" in report:
        d = report["detection"]
        lines.append(
            f"beat detection (150 ms): Se {100 * d['se']:.2f}%  +P {100 * d['ppv']:.2f}%  "
            f"(TP {d['tp']}, FN {d['fn']}, FP {d['fp']})"
        )
    lines.append(f"{'class':>5} {'Se %':>7} {'+P %':>7} {'F1 %':>7} {'support':>8}")
    for label, c in report["classes"].items():
        lines.append(
            f"{label:>5} {100 * c['se']:7.2f} {100 * c['ppv']:7.2f} {100 * c['f1']:7.2f} "
            f"{c['support']:8d}"
        )
    labels = report["labels"]
    lines.append("confusion matrix (rows: reference, columns: predicted)")
    lines.append("      " + "".join(f"{label:>7}" for label in labels))
    for label, row in zip(labels, report["confusion_matrix"]):
        lines.append(f"{label:>5} " + "".join(f"{v:7d}" for v in row))
    return "\n".join(lines)


def summarize(samples, classes, fs):
    """Beats per class, ectopic burden and mean heart rate of one record."""
    counts = {label: int((classes == label).sum()) for label in AAMI_CLASSES}
    n = len(classes)
    burden = lambda k: 100.0 * k / n if n else 0.0  # noqa: E731
    duration = (samples[-1] - samples[0]) / fs if n > 1 else 0.0
    return {
        "n_beats": n,
        "beats_per_class": counts,
        "ectopic_burden_percent": burden(counts["S"] + counts["V"]),
        "supraventricular_burden_percent": burden(counts["S"]),
        "ventricular_burden_percent": burden(counts["V"]),
        "mean_heart_rate_bpm": 60.0 * (n - 1) / duration if duration > 0 else 0.0,
    }


def write_annotations(out_dir, name, ext, samples, symbols, fs):
    """``OUT/<name>.<ext>`` with wfdb.wrann, moved into place only when complete.

    wfdb.wrann writes its file directly; it writes into a temporary folder
    inside OUT (the same file system), and the finished file is renamed onto
    the old one, so a kill never leaves a half-written annotation file.
    """
    import wfdb

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".wrann.") as tmp:
        wfdb.wrann(
            name, ext, np.asarray(samples, dtype=np.int64), symbol=list(symbols),
            fs=fs, write_dir=tmp,
        )  # fmt: skip
        os.replace(Path(tmp) / f"{name}.{ext}", out_dir / f"{name}.{ext}")
