"""
Classify every heartbeat of an ECG record
=========================================

:class:`~sklstm.ecg.ArrhythmiaClassifier` is the model of single beats behind
``python -m pipelines.ecg_arrhythmia`` (which by default pairs it with
:class:`~sklstm.ecg.ArrhythmiaTagger`), as an estimator: it reads the beats
of WFDB records (any sampling rate, any lead) and classifies each into the
AAMI classes N (normal), S (supraventricular ectopic), V (ventricular
ectopic) and F (fusion).

Here it trains for a few seconds on two records of the MIT-BIH Arrhythmia
Database, then classifies the beats of a patient it has never seen, found
by its R-peak detector rather than taken from the annotations. The strip
shows the reference classes above the predicted ones. A model trained on
two patients is no guide to accuracy: ``docs/ecg_arrhythmia.md`` gives the
cross-validated figures (by patient) of this classifier (``--kind beat``) and of
the default pair.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklstm.ecg import ArrhythmiaClassifier, filter_ecg, plot_ecg_strip, read_signal

mitdb = Path(os.environ.get("SKLSTM_DATA", "data")) / "mitdb"

# 119: ventricular bigeminy; 209: runs of atrial premature beats.
clf = ArrhythmiaClassifier(hidden_size=32, max_iter=6)
beats = clf.load_beats(mitdb, ["119", "209"])
clf.fit(beats.X, beats.y)
print(f"trained on {len(beats.y)} beats of records {beats.records}")

# %%
# A new patient: record 220 (atrial premature beats), its beats detected.
result = clf.annotate(mitdb / "220", detect=True)
matched = result.y != ""  # detected beats that match a reference beat
print(f"{len(result.samples)} beats detected, {matched.sum()} matching the reference")
for label in clf.classes_:
    truth, pred = result.y[matched] == label, result.pred[matched] == label
    both = (truth & pred).sum()
    print(f"{label}: {truth.sum():5d} reference, {pred.sum():5d} predicted, {both:5d} both")

# %%
# Ten seconds around the first atrial premature beat, filtered as the model
# reads it (with margins, so that the filters have settled).
fs = result.fs
first_s = result.samples[np.flatnonzero(result.y == "S")[0]]
start, stop = int(first_s - 4 * fs), int(first_s + 6 * fs)
signal, _ = read_signal(
    mitdb / "220", lead=clf.lead, start=start - int(5 * fs), stop=stop + int(5 * fs)
)
signal = filter_ecg(signal, fs=fs, baseline=clf.baseline, lowpass=clf.lowpass)
fig, ax = plt.subplots(figsize=(10, 3.5))
plot_ecg_strip(
    signal[int(5 * fs) : -int(5 * fs)],
    fs=fs,
    samples=result.samples,
    predicted=result.pred,
    reference=result.y,
    start=start,
    ax=ax,
    title="record 220: reference (top) and predicted (bottom) classes",
)
plt.tight_layout()
