"""
Spot spoken words in a noisy recording
======================================

:class:`~sklstm.audio.KeywordSpotter` is the model behind
``python -m pipelines.keyword_spotting``, as an estimator: MFCCs and an LSTM
trained on short clips of each word, perturbed copies of them, and a background
class of silence and noise. Its :meth:`~sklstm.audio.KeywordSpotter.spot` reads a
long recording through a sliding window and reports the words it is sure of.

Here a small spotter learns three digits from twenty takes of the Free Spoken
Digit Dataset's six speakers (a few seconds of training), then listens to a
recording of other takes separated by pauses, with white noise 10 dB below the
speech. The spectrogram shows the words said (brackets below) and the words
spotted (shaded, with their scores). Last, the recording arrives 100 ms at a
time, as from a microphone, and :meth:`~sklstm.audio.KeywordSpotter.stream`
reports the same words while it does. A spotter trained this briefly is no guide
to accuracy: ``docs/keyword_spotting.md`` gives the figures of the full model.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklstm.audio import KeywordSpotter, event_scores, load_audio, make_stream, plot_keywords

recordings = Path(os.environ.get("SKLSTM_DATA", "data")) / "fsdd" / "recordings"
speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def clips(indices):
    paths = [recordings / f"{d}_{s}_{i}.wav" for d in "123" for s in speakers for i in indices]
    return [load_audio(p, sr=8000)[0] for p in paths], [p.name[0] for p in paths]


waves, labels = clips(range(10, 30))
spotter = KeywordSpotter(hidden_size=64, max_iter=20, n_copies=1, random_state=0)
spotter.fit(waves, labels)
print(f"trained on {len(waves)} clips; classes {spotter.classes_.tolist()}")

# %%
# A recording of eight other takes, every speaker's words at one level, in noise.
test, test_labels = clips([30])
rng = np.random.RandomState(1)
chosen = rng.choice(len(test), 8, replace=False)
words = [test[i] / np.sqrt(np.mean(test[i] ** 2)) * 0.05 for i in chosen]
y, truth = make_stream(words, [test_labels[i] for i in chosen], sr=8000, snr_db=10, random_state=1)
events = spotter.spot(y)
scores = event_scores(events, truth)
print(f"{len(events)} words spotted, {scores['tp']} of {len(truth)} right")

axes = plot_keywords(y, sr=8000, events=events, reference=truth)
axes[0].set_title("white noise 10 dB below the speech: said (brackets) and spotted (shaded)")
plt.tight_layout()

# %%
# Live: the same recording fed 100 ms at a time, as a microphone delivers it.
# ``spotter.stream()`` reports each of the offline events as soon as the audio
# that decides it has arrived (``decided``: 0.7 s after the end of its window).
stream, live = spotter.stream(), []
for start in range(0, len(y), 800):
    live += stream.update(y[start : start + 800])
live += stream.finish()
assert [{k: e[k] for k in ("start", "end", "label", "score")} for e in live] == events
for e in live:
    print(f"{e['label']} in {e['start']:.1f}-{e['end']:.1f} s, reported at {e['decided']:.1f} s")
