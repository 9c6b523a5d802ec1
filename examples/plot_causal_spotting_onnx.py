"""
Spot words in a microphone stream with onnxruntime
==================================================

:class:`~sklstm.audio.CausalKeywordSpotter` reads a recording one 20-ms MFCC
frame at a time with a unidirectional LSTM tagger trained to name each word
during its last 0.2 s, so it can report a word as soon as the word ends. Its
network exports as a one-step ONNX graph whose recurrent state is an explicit
input and output; with the features written out in numpy, a device needs neither
PyTorch nor sklstm, only onnxruntime.

Here a small spotter learns three digits from six takes of the Free Spoken Digit
Dataset's six speakers (a few seconds of training). A recording of other takes
then arrives 100 ms at a time, as from a microphone, and the loop below turns
each chunk into frames, features and network steps, and prints each word as it
is decided. A spotter trained this briefly is no guide to accuracy:
``docs/keyword_spotting.md`` gives the figures of the full model.
"""

import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
import scipy.fft

from sklstm.audio import CausalKeywordSpotter, load_audio, make_stream

recordings = Path(os.environ.get("SKLSTM_DATA", "data")) / "fsdd" / "recordings"
speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def clips(indices):
    paths = [recordings / f"{d}_{s}_{i}.wav" for d in "123" for s in speakers for i in indices]
    return [load_audio(p, sr=8000)[0] for p in paths], [p.name[0] for p in paths]


waves, labels = clips(range(10, 16))
spotter = CausalKeywordSpotter(
    hidden_size=64, num_layers=1, max_iter=30, n_streams=100, random_state=0
).fit(waves, labels)
print(f"trained on {len(waves)} clips; classes {spotter.classes_.tolist()}")

# %%
# What the device gets: the one-step ONNX graph, and the few arrays of the
# features (window, mel filterbank, running-mean and scaling statistics).
mfcc, normalizer, scaler, tagger = (step for _, step in spotter.pipeline_.steps)
path = tagger.to_onnx(Path(tempfile.mkdtemp()) / "spotter-step.onnx", streaming=True)
session = onnxruntime.InferenceSession(str(path))
meta = session.get_modelmeta().custom_metadata_map
classes = json.loads(meta["classes"])
initial = {
    name: np.full(s["shape"], s["initial"], np.int64 if name == "count" else np.float32)
    for name, s in json.loads(meta["stream_state"]).items()
}
outputs = [o.name for o in session.get_outputs()]
sr, n_fft, hop, n_mfcc = spotter.sr, mfcc.n_fft, mfcc.hop_length, mfcc.n_mfcc
window, mel = mfcc.window_, mfcc.mel_basis_
keywords = [k for k, c in enumerate(classes) if c != spotter.background_label]
background = classes.index(spotter.background_label)
thresholds = [spotter.keyword_thresholds().get(c, 1.0) for c in classes]  # one per class


class Microphone:
    """Frames, features and network steps of a stream, in numpy and onnxruntime."""

    def __init__(self):
        self.pending = np.zeros(n_fft // 2, np.float32)  # frames are centred
        self.state = dict(initial)
        self.count, self.mean = normalizer.prior, normalizer.mean_.copy()
        self.recent, self.frames, self.last_event = [], 0, -np.inf

    def features(self, frame):
        power = np.abs(scipy.fft.rfft(frame * window)) ** 2
        log_mel = 10 * np.log10(np.maximum(mel @ power, 1e-10))
        x = scipy.fft.dct(log_mel, type=2, norm="ortho")[:n_mfcc]
        # Online mean normalization: a plain mean at first, then a moving average.
        self.count = min(self.count + 1, normalizer.window)
        self.mean += (x - self.mean) / self.count
        return ((x - self.mean - scaler.mean_) / scaler.scale_).astype(np.float32)

    def update(self, chunk):
        self.pending = np.concatenate([self.pending, chunk])
        events = []
        while len(self.pending) >= n_fft:
            frame, self.pending = self.pending[:n_fft], self.pending[hop:]
            out = session.run(None, {"x": self.features(frame)[None], **self.state})
            self.state = {n[:-4]: v for n, v in zip(outputs, out) if n.endswith("_out")}
            self.recent = [*self.recent, out[0][0]][-spotter.smooth :]
            p = np.mean(self.recent, axis=0)
            k = max(keywords, key=lambda c: p[c])
            t = (self.frames * hop + n_fft - n_fft // 2) / sr  # when the frame ends
            self.frames += 1
            if (
                p[k] >= thresholds[k]
                and p[k] > p[background]
                and t - self.last_event >= spotter.refractory
            ):
                self.last_event = t
                events.append((round(t, 2), classes[k], round(float(p[k]), 3)))
        return events


test, test_labels = clips([30])
rng = np.random.RandomState(1)
chosen = rng.choice(len(test), 8, replace=False)
y, truth = make_stream(
    [test[i] for i in chosen], [test_labels[i] for i in chosen], sr=sr, random_state=1
)
microphone, found = Microphone(), []
chunk = sr // 10  # 100 ms at a time
# At the end, the last frames read zeros past the recording, as the offline ones do.
for samples in [*(y[i : i + chunk] for i in range(0, len(y), chunk)), np.zeros(n_fft // 2)]:
    for event in microphone.update(samples.astype(np.float32)):
        print(f"{event[0]:6.2f} s  {event[1]}  ({event[2]})")
        found.append(event)

reference = spotter.spot(y)  # the same recording, offline, in sklstm
print(f"said: {' '.join(w['label'] for w in truth)}")
print(f"onnxruntime: {' '.join(e[1] for e in found)}")
print(f"sklstm spot: {' '.join(e['label'] for e in reference)}")

# %%
# The recording, the words said (grey) and the words decided in the stream (red,
# at the moment each was decided).
t = np.arange(len(y)) / sr
fig, ax = plt.subplots(figsize=(10, 3))
ax.plot(t, y, lw=0.4, color="0.3")
for word in truth:
    ax.axvspan(word["start"], word["end"], color="0.85")
    ax.text(word["start"], 0.9 * np.abs(y).max(), word["label"], fontsize=12)
for when, label, _ in found:
    ax.axvline(when, color="tab:red", lw=1.5)
    ax.text(when + 0.02, -0.9 * np.abs(y).max(), label, color="tab:red", fontsize=12)
ax.set_xlabel("time (s)")
ax.set_title("said (grey), and decided in the stream (red)")
plt.tight_layout()
